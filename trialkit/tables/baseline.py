"""Table 1 (baseline characteristics by arm), baseline severity, and baseline correlations.

The numbers come from ``tableone`` (Pollard TJ et al., JAMIA Open 2018); this module chooses what
to summarise how, puts the result in a tidy table (one row per variable and level, one column
per arm, stable column names) and renders it with ``great_tables``.

Distribution rule (stated, pre-specified): a continuous variable is summarised as
**median [Q1, Q3]** when the absolute sample skewness of the pooled data (all arms; pandas'
adjusted Fisher-Pearson coefficient) exceeds ``skew_limit`` (default 1), otherwise as
**mean (SD)**. Categorical variables are **n (%)**, percentages among subjects with a known value;
the ``missing`` column counts unknown values. Standardized mean differences (SMD) compare each
arm with the control arm, computed here (not by tableone) from the data at full precision by
:func:`smd_continuous` (difference of means over the root mean of the two sample variances,
sign = arm minus control) and :func:`smd_categorical` (Yang & Dalton's multinomial SMD, always
>= 0, exact rational arithmetic on the levels present in the two arms; equal to R tableone's).
No hypothesis tests by default (CONSORT 2010, item 15); ``tests=True`` adds tableone's default
test per variable (ANOVA / Kruskal-Wallis for continuous, chi-squared or Fisher's exact).

Examples
--------
>>> import pandas as pd
>>> from trialkit.study import load_study
>>> df = pd.DataFrame({"arm": ["control", "control", "msc", "msc", "pe", "pe_msc"],
...                    "age": [40.0, 50, 45, 55, 60, 35], "sex": ["M", "F", "M", "M", "F", "M"]})
>>> t1 = table_one(df, load_study(), continuous=["age"], categorical=["sex"])
>>> t1[["variable", "level", "statistic", "overall", "control"]]
  variable level  statistic     overall     control
0        n                            6           2
1      age        mean (SD)  47.5 (9.4)  45.0 (7.1)
2      sex     F      n (%)    2 (33.3)    1 (50.0)
3      sex     M      n (%)    4 (66.7)    1 (50.0)
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from trialkit.tables.display import format_number

if TYPE_CHECKING:
    from great_tables import GT

    from trialkit.study import Study

__all__ = ["summary_choice", "table_one", "smd_continuous", "smd_categorical", "render_table_one", "write_html",
           "severity_table", "SEVERITY_VARIABLES", "baseline_correlations", "correlation_variables",
           "CORRELATION_SCORES", "default_table_one_variables"]

SEVERITY_VARIABLES = {"continuous": ["meld", "meld_na"], "categorical": ["child_pugh_class", "aclf_grade"]}
_LABELS = {
    "age": "Age (years)", "sex": "Sex", "weight_kg": "Weight (kg)", "hbv_dna_log10": "HBV DNA (log10 IU/mL)",
    "hbeag_positive": "HBeAg positive", "cirrhosis": "Cirrhosis", "ascites": "Ascites (0-2)",
    "encephalopathy": "Hepatic encephalopathy (West Haven)", "meld": "MELD", "meld_na": "MELD-Na",
    "meld_3": "MELD 3.0", "child_pugh_points": "Child-Pugh points", "child_pugh_class": "Child-Pugh class",
    "albi": "ALBI score", "albi_grade": "ALBI grade", "clif_c_of": "CLIF-C OF", "aclf_grade": "ACLF grade (EASL-CLIF)",
    "clif_c_aclf": "CLIF-C ACLF", "cossh_aclf_ii": "COSSH-ACLF II",
}
_DEMOGRAPHICS = {"continuous": ["age", "weight_kg", "hbv_dna_log10"],
                 "categorical": ["sex", "hbeag_positive", "cirrhosis", "ascites", "encephalopathy"]}
#: labs measuring what a subjects-table baseline column records (docs/data-format.md)
_SAME_AS_SUBJECT_COLUMN = {"HBVDNA": "hbv_dna_log10"}


def default_table_one_variables(data: pd.DataFrame, study: Study) -> dict:
    """The Table 1 variables present in a :func:`~trialkit.derive.baseline.baseline_dataset`.

    Returns
    -------
    dict
        ``continuous``: demographics, then baseline labs in study-file order (clinical grades
        ``unit: grade`` excluded: they are categorical; the HBVDNA lab left out when the subjects
        table's ``hbv_dna_log10`` is listed), then MELD and MELD-Na;
        ``categorical``: sex and the baseline flags and grades, Child-Pugh class, ACLF grade,
        baseline symptom scores (``symptom_<name>``, 0-3).
        Only columns present and not entirely missing are listed.

    Examples
    --------
    ``weight_kg`` is entirely missing and ``ASCITES`` is a clinical grade, so neither is listed:

    >>> import numpy as np
    >>> from trialkit.study import load_study
    >>> df = pd.DataFrame({"arm": ["control", "msc"], "age": [40.0, 52.0], "weight_kg": [np.nan, np.nan],
    ...                    "sex": ["M", "F"], "ALT": [250.0, 410.0], "ASCITES": [1, 2], "meld": [24.0, 27.0],
    ...                    "child_pugh_class": ["C", "B"], "symptom_fatigue": [2, 1]})
    >>> default_table_one_variables(df, load_study())
    {'continuous': ['age', 'ALT', 'meld'], 'categorical': ['sex', 'child_pugh_class', 'symptom_fatigue']}
    """
    def ok(c):
        return c in data.columns and data[c].notna().any()

    cont = [c for c in _DEMOGRAPHICS["continuous"] if ok(c)]
    # a lab that repeats a subjects-table baseline marker is listed once (the subjects column)
    labs = [p for p, spec in study.parameters.items() if spec.unit.lower() != "grade" and ok(p)
            and _SAME_AS_SUBJECT_COLUMN.get(p) not in cont]
    cont += labs
    cont += [c for c in SEVERITY_VARIABLES["continuous"] if ok(c)]
    cat = [c for c in _DEMOGRAPHICS["categorical"] if ok(c)]
    cat += [c for c in SEVERITY_VARIABLES["categorical"] if ok(c)]
    cat += [c for c in data.columns if c.startswith("symptom_") and ok(c)]
    # the dataset's own baseline columns of subjects (a real trial's tumour size, prior convictions, ...)
    from trialkit.derive.baseline import STATUS_COLUMNS
    from trialkit.derive.severity import SCORE_COLUMNS

    known = {"subject_id", "arm", "arm_label", "randomization_date", *STATUS_COLUMNS, *SCORE_COLUMNS,
             *study.factors, *study.parameters, *_DEMOGRAPHICS["continuous"], *_DEMOGRAPHICS["categorical"]}
    for c in data.columns:
        if c in known or c.startswith("symptom_") or c.endswith(("_received", "_doses")) or not ok(c):
            continue
        numeric = pd.api.types.is_numeric_dtype(data[c]) and data[c].nunique() > 5
        (cont if numeric else cat).append(c)
    return {"continuous": cont, "categorical": cat}


def summary_choice(data: pd.DataFrame, columns: Sequence[str], skew_limit: float = 1.0) -> pd.DataFrame:
    """Apply the distribution rule: which continuous variables get median [Q1, Q3].

    Returns
    -------
    DataFrame
        ``variable``, ``n``, ``skewness`` (pooled, pandas ``Series.skew``), ``nonnormal``
        (``|skewness| > skew_limit``), ``statistic`` (``"median [Q1,Q3]"`` or ``"mean (SD)"``).

    Examples
    --------
    >>> df = pd.DataFrame({"a": [1.0, 2, 3, 4, 5], "b": [1.0, 1, 1, 2, 30]})
    >>> summary_choice(df, ["a", "b"])[["variable", "nonnormal", "statistic"]]
      variable  nonnormal       statistic
    0        a      False       mean (SD)
    1        b       True  median [Q1,Q3]
    """
    rows = []
    for c in columns:
        x = pd.to_numeric(data[c], errors="coerce").astype(float)
        sk = float(x.skew()) if x.notna().sum() > 2 else float("nan")
        non = bool(abs(sk) > skew_limit) if np.isfinite(sk) else False
        rows.append({"variable": c, "n": int(x.notna().sum()), "skewness": sk, "nonnormal": non,
                     "statistic": "median [Q1,Q3]" if non else "mean (SD)"})
    return pd.DataFrame(rows, columns=["variable", "n", "skewness", "nonnormal", "statistic"])


def _as_category(s: pd.Series) -> pd.Series:
    """Categorical display values: booleans as No/Yes, whole numbers without '.0', text as is."""
    known = s.dropna()
    if s.dtype == bool or str(s.dtype) == "boolean" or (
            len(known) and known.map(lambda v: isinstance(v, (bool, np.bool_))).all()):
        return s.astype(object).map({True: "Yes", False: "No"}).astype(object)
    if pd.api.types.is_numeric_dtype(s):
        x = s.astype(float)
        if np.all(np.mod(x.dropna(), 1) == 0):
            return x.map(lambda v: np.nan if pd.isna(v) else str(int(v))).astype(object)
        return x.map(lambda v: np.nan if pd.isna(v) else f"{v:g}").astype(object)
    return s.astype(object).where(s.notna(), np.nan)


def table_one(data: pd.DataFrame, study: Study, *, continuous: Sequence[str] | None = None,
              categorical: Sequence[str] | None = None, nonnormal: Sequence[str] | None = None,
              skew_limit: float = 1.0, tests: bool = False, decimals: int = 1, group: str = "arm",
              labels: dict | None = None) -> pd.DataFrame:
    """Baseline characteristics by arm and overall, as a tidy table.

    Parameters
    ----------
    data : DataFrame
        One row per subject, e.g. :func:`trialkit.derive.baseline.baseline_dataset`.
    study : Study
        Gives the arm order, labels and the control arm.
    continuous, categorical : list of str, optional
        Variables to summarise (default: :func:`default_table_one_variables`).
    nonnormal : list of str, optional
        Continuous variables to show as median [Q1,Q3]; default: the distribution rule
        (:func:`summary_choice` with ``skew_limit``).
    tests : bool, default False
        Add a ``p_value`` and ``test`` column (tableone's defaults). Off by default: baseline
        differences between randomized arms are due to chance by construction.
    decimals : int, default 1
    group : str, default "arm"
    labels : dict, optional
        Display labels by variable (defaults for the standard columns and the study's lab labels).

    Returns
    -------
    DataFrame
        ``variable``, ``label``, ``level`` (empty for continuous), ``statistic`` (``"mean (SD)"``,
        ``"median [Q1,Q3]"`` or ``"n (%)"``), ``missing`` (count, on the first row of a variable),
        ``overall``, then one column per arm id (study order; arms without subjects omitted),
        ``smd_<arm>`` for every non-control arm (vs control; NaN on a variable's later rows), and
        with ``tests`` ``p_value`` and ``test``. The first row is ``n``. Cells are display
        strings, as tableone formats them.

    Examples
    --------
    ALT is skewed, so the distribution rule shows it as median [Q1,Q3]:

    >>> from trialkit.datasets import example
    >>> from trialkit.derive.baseline import baseline_dataset
    >>> trial = example()
    >>> data = baseline_dataset(trial)
    >>> t1 = table_one(data, trial.study, continuous=["age", "ALT"], categorical=["sex"])
    >>> print(t1[["variable", "level", "statistic", "control", "msc", "smd_msc"]].round(2).to_string())
      variable level       statistic             control                 msc  smd_msc
    0        n                                        30                  30      NaN
    1      age             mean (SD)         39.2 (12.0)         41.9 (11.6)     0.22
    2      ALT        median [Q1,Q3]  189.0 [82.8,303.5]  315.0 [96.8,583.0]     0.62
    3      sex     F           n (%)             0 (0.0)            5 (16.7)     0.63
    4      sex     M           n (%)          30 (100.0)           25 (83.3)      NaN
    """
    if continuous is None or categorical is None:
        dflt = default_table_one_variables(data, study)
        continuous = dflt["continuous"] if continuous is None else list(continuous)
        categorical = dflt["categorical"] if categorical is None else list(categorical)
    continuous, categorical = list(continuous), list(categorical)
    if nonnormal is None:
        ch = summary_choice(data, continuous, skew_limit)
        nonnormal = ch.loc[ch["nonnormal"], "variable"].tolist()
    arms = [a for a in study.arm_ids if (data[group] == a).any()]
    control = study.control_arm
    df = pd.DataFrame({group: data[group].astype(object).to_numpy()}, index=data.index)
    for c in continuous:
        df[c] = pd.to_numeric(data[c], errors="coerce").astype(float)
    for c in categorical:
        df[c] = _as_category(data[c])
    df = df[df[group].isin(arms)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tableone import TableOne

        t1 = TableOne(df, columns=[*continuous, *categorical], categorical=categorical or None,
                      continuous=continuous or None, groupby=group, nonnormal=nonnormal or None,
                      order={group: arms}, pval=tests, htest_name=tests, smd=False,
                      missing=True, overall=True, decimals=decimals, label_suffix=False,
                      include_null=False)
        raw = t1.tableone.copy()
    raw.columns = [c[1] if isinstance(c, tuple) else c for c in raw.columns]
    labels = {**_LABELS, **{p: s.label or p for p, s in study.parameters.items()},
              **{c: f"Symptom: {c[8:].replace('_', ' ')} (0-3)" for c in categorical if c.startswith("symptom_")},
              **(labels or {})}
    out = pd.DataFrame({"variable": [i[0] for i in raw.index], "level": [str(i[1]) for i in raw.index]})
    out["label"] = out["variable"].map(lambda v: "n" if v == "n" else labels.get(v, v))
    out["statistic"] = np.where(out["variable"].isin(categorical), "n (%)",
                                np.where(out["variable"].isin(nonnormal), "median [Q1,Q3]",
                                         np.where(out["variable"] == "n", "", "mean (SD)")))
    miss = raw["Missing"].astype(object).where(raw["Missing"].notna(), "").astype(str).str.strip()
    out["missing"] = pd.to_numeric(miss.to_numpy(), errors="coerce")
    out["overall"] = raw["Overall"].astype(str).str.strip().to_numpy()
    for a in arms:
        out[a] = raw[a].astype(str).str.strip().to_numpy()
    first = ~out["variable"].duplicated()
    for a in arms:
        if a == control or control not in arms:
            continue
        x0, x1 = df[df[group] == control], df[df[group] == a]
        smd = {v: smd_continuous(x0[v], x1[v]) for v in continuous}
        smd.update({v: smd_categorical(x0[v], x1[v]) for v in categorical})
        out[f"smd_{a}"] = np.where(first & (out["variable"] != "n"),
                                   out["variable"].map(smd).astype(float), np.nan)
    if tests:
        pv = raw["P-Value"].astype(object).where(raw["P-Value"].notna(), "").astype(str).str.strip()
        out["p_value"] = pd.to_numeric(pv.str.replace("<", "", regex=False).replace("", np.nan).to_numpy(),
                                       errors="coerce")
        out["test"] = raw["Test"].astype(object).where(raw["Test"].notna(), "").astype(str).str.strip().to_numpy()
        out.loc[~first | (out["variable"] == "n"), ["p_value"]] = np.nan
    out.loc[~first, "missing"] = np.nan
    out.loc[out["variable"] == "n", "level"] = ""
    out.loc[out["statistic"] != "n (%)", "level"] = ""
    cols = ["variable", "label", "level", "statistic", "missing", "overall", *arms,
            *[c for c in out.columns if c.startswith("smd_")], *(["p_value", "test"] if tests else [])]
    return out[cols].reset_index(drop=True)


def smd_continuous(control: npt.ArrayLike, arm: npt.ArrayLike) -> float:
    """Standardized mean difference of a continuous variable, arm minus control.

    Parameters
    ----------
    control, arm : array-like of float
        Values of the control arm and of the compared arm (missing values dropped).

    Returns
    -------
    float
        ``(mean_arm - mean_control) / sqrt((var_arm + var_control) / 2)`` with sample variances
        (denominator n - 1), as R ``tableone::ExtractSmd`` (unsigned there). ``0`` when both arms
        are the same constant, ``±inf`` when both are constant at different values (R: ``Inf``),
        ``NaN`` when an arm has fewer than two values.

    Notes
    -----
    Sums are exact (``math.fsum``), so the result does not depend on the order of the data or
    on the machine's vectorised summation: the same data give the same bits everywhere.
    Hand-written because no library computes this SMD: ``pingouin.compute_effsize`` (Cohen's d)
    pools the variances weighted by their degrees of freedom, which differs from the average of the
    two variances when the arms differ in size (its paired "d-avg" needs paired samples).

    References
    ----------
    Austin PC. Balance diagnostics for comparing the distribution of baseline covariates between
    treatment groups in propensity-score matched samples. Stat Med 2009;28:3083-3107.

    Examples
    --------
    Means 2 and 4, variances 1 and 4: (4 - 2) / sqrt((1 + 4) / 2) = 1.2649...

    >>> round(smd_continuous([1.0, 2, 3], [2.0, 4, 6]), 6)
    1.264911
    >>> smd_continuous([5.0, 5], [5.0, 5, 5]), smd_continuous([1.0, 1], [2.0, 2])
    (0.0, inf)
    """
    import math

    def moments(x):
        x = [float(v) for v in np.asarray(x, dtype=float).ravel() if not np.isnan(v)]
        if len(x) < 2:
            return float("nan"), float("nan")
        m = math.fsum(x) / len(x)
        return m, math.fsum((v - m) ** 2 for v in x) / (len(x) - 1)

    (m0, v0), (m1, v1) = moments(control), moments(arm)
    diff, pooled = m1 - m0, (v0 + v1) / 2
    if np.isnan(diff) or np.isnan(pooled):
        return float("nan")
    if pooled == 0:
        return 0.0 if diff == 0 else math.copysign(math.inf, diff)
    return diff / math.sqrt(pooled)


def smd_categorical(control: npt.ArrayLike, arm: npt.ArrayLike) -> float:
    """Yang & Dalton's multinomial standardized mean difference (always >= 0), computed exactly.

    Parameters
    ----------
    control, arm : array-like
        Category values of the control arm and of the compared arm (missing values dropped).

    Returns
    -------
    float
        ``sqrt(d' S^-1 d)`` with ``d = p_arm - p_control`` (proportions of the levels, the first
        level dropped) and ``S`` the mean of the two multinomial covariance matrices
        (``diag(p) - p p'``). ``0`` when both arms hold one and the same level; ``inf`` when the
        arms share no level (complete separation, where the SMD is unbounded); ``NaN`` when an
        arm has no known value.

    Notes
    -----
    Only the levels observed in at least one of the two arms enter (a level present only in a
    third arm, or nowhere, adds an all-zero row and column to ``S``); then the first of them is
    dropped (the proportions sum to one). When the two arms share a level, ``S`` is then
    positive definite, so the distance is the ordinary Mahalanobis distance, invariant to which
    level is dropped, and it equals R ``tableone``'s value, which applies ``MASS::ginv`` to the
    covariance over all levels of the variable (``tests/reference/smd.R`` checks this). The
    proportions are ratios of counts, so ``d' S^-1 d`` is solved in exact rational arithmetic
    (``fractions``; at most a few levels): the result is the correctly rounded value on every
    machine. Python ``tableone`` instead inverts the full covariance with ``numpy.linalg.inv``:
    when the dropped first level is absent from both arms that matrix is singular and the
    result is rounding noise that differs between machines (hand-written here for that reason).
    R returns ``NaN`` for two levels and a projected value for more when the arms share no
    level; this function returns ``inf`` there.

    References
    ----------
    Yang D, Dalton JE. A unified approach to measuring the effect size between two groups using
    SAS. SAS Global Forum 2012, paper 335-2012.

    Examples
    --------
    Two levels reduce to ``|p1 - p0| / sqrt((p1 q1 + p0 q0) / 2)``: here 0.5 / sqrt(0.25 / 2)

    >>> round(smd_categorical(["a", "a", "b", "b"], ["a", "a", "a", "a"]), 6)
    1.414214
    >>> smd_categorical(list("aab"), list("aba")), smd_categorical(list("aa"), list("bb"))
    (0.0, inf)
    """
    import math
    from fractions import Fraction

    c0 = pd.Series(np.asarray(control, dtype=object)).dropna().map(str).value_counts()
    c1 = pd.Series(np.asarray(arm, dtype=object)).dropna().map(str).value_counts()
    n0, n1 = int(c0.sum()), int(c1.sum())
    if n0 == 0 or n1 == 0:
        return float("nan")
    levels = sorted(set(c0.index) | set(c1.index))
    if not set(c0.index) & set(c1.index):
        return math.inf
    if len(levels) == 1:
        return 0.0
    p0 = [Fraction(int(c0.get(v, 0)), n0) for v in levels[1:]]
    p1 = [Fraction(int(c1.get(v, 0)), n1) for v in levels[1:]]
    k = len(p0)
    # pooled covariance S = (diag(p0) - p0 p0' + diag(p1) - p1 p1') / 2, augmented with d
    d = [b - a for a, b in zip(p0, p1)]
    m = [[((p0[i] if i == j else 0) - p0[i] * p0[j] + (p1[i] if i == j else 0) - p1[i] * p1[j]) / 2
          for j in range(k)] + [d[i]] for i in range(k)]
    for col in range(k):  # Gauss-Jordan elimination, exact; S is positive definite (see Notes)
        piv = next(r for r in range(col, k) if m[r][col] != 0)
        m[col], m[piv] = m[piv], m[col]
        for r in range(k):
            if r != col and m[r][col] != 0:
                f = m[r][col] / m[col][col]
                m[r] = [x - f * y for x, y in zip(m[r], m[col])]
    q = sum(d[i] * m[i][k] / m[i][i] for i in range(k))  # d' S^-1 d
    return math.sqrt(q)


def severity_table(data: pd.DataFrame, study: Study, **kwargs: Any) -> pd.DataFrame:
    """Baseline severity by arm: MELD, MELD-Na (continuous), Child-Pugh class and ACLF grade.

    A :func:`table_one` restricted to :data:`SEVERITY_VARIABLES` (those with any value).

    Examples
    --------
    The simulated trial records no ACLF grade, so that variable is left out:

    >>> from trialkit.datasets import example
    >>> from trialkit.derive.baseline import baseline_dataset
    >>> trial = example()
    >>> st = severity_table(baseline_dataset(trial), trial.study)
    >>> st[["variable", "level", "statistic", "overall", "control", "pe_msc"]]
               variable level  statistic     overall     control      pe_msc
    0                 n                          120          30          30
    1              meld        mean (SD)  24.7 (2.2)  23.9 (2.3)  24.7 (1.9)
    2           meld_na        mean (SD)  25.6 (2.6)  24.7 (2.8)  25.5 (2.3)
    3  child_pugh_class     B      n (%)   44 (36.7)   11 (36.7)    8 (26.7)
    4  child_pugh_class     C      n (%)   76 (63.3)   19 (63.3)   22 (73.3)
    """
    cont = [c for c in SEVERITY_VARIABLES["continuous"] if c in data and data[c].notna().any()]
    cat = [c for c in SEVERITY_VARIABLES["categorical"] if c in data and data[c].notna().any()]
    if not cont and not cat:  # no score could be computed from these data: an empty table
        return pd.DataFrame(columns=["variable", "label", "level", "statistic", "missing", "overall",
                                     *study.arm_ids])
    return table_one(data, study, continuous=cont, categorical=cat, **kwargs)


def render_table_one(table: pd.DataFrame, study: Study, *, title: str = "Baseline characteristics",
                     subtitle: str | None = None, table_id: str = "table_one") -> GT:
    """A publication table (``great_tables.GT``) from :func:`table_one` output.

    Arms become columns headed by their study labels with ``N = n``; SMD and p-value columns
    follow the report's rounding rule (:func:`trialkit.tables.display.format_number`: 3 and 2
    significant digits; missing values empty). ``table_id`` fixes the HTML id so the rendering is
    byte-for-byte reproducible. Returns the GT object (``.as_raw_html()`` gives the HTML).

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> from trialkit.derive.baseline import baseline_dataset
    >>> trial = example()
    >>> st = severity_table(baseline_dataset(trial), trial.study)
    >>> gt = render_table_one(st, trial.study, title="Baseline severity")
    >>> type(gt).__name__
    'GT'
    >>> html = gt.as_raw_html()
    >>> "Conventional care (N = 30)" in html, "SMD vs Conventional care" in html, "MELD-Na, mean (SD)" in html
    (True, True, True)
    """
    from great_tables import GT

    arms = [a for a in study.arm_ids if a in table.columns]
    n_row = table[table["variable"] == "n"].iloc[0]
    body = table[table["variable"] != "n"].copy()
    first = ~body["variable"].duplicated()
    body["characteristic"] = np.where(
        body["statistic"] == "n (%)",
        np.where(first, body["label"] + ", n (%): " + body["level"], "    " + body["level"]),
        body["label"] + ", " + body["statistic"])
    cols = ["characteristic", "overall", *arms, *[c for c in table.columns if c.startswith("smd_")]]
    if "p_value" in table.columns:
        cols.append("p_value")
    body = body[cols].reset_index(drop=True)
    gt = GT(body, id=table_id).tab_header(title=title, subtitle=subtitle)
    heads: dict[str, Any] = {"characteristic": "Characteristic", "overall": f"Overall (N = {n_row['overall']})"}
    heads.update({a: f"{study.arm_labels[a]} (N = {n_row[a]})" for a in arms})
    heads.update({c: f"SMD {study.arm_labels.get(c[4:], c[4:])}" for c in cols if c.startswith("smd_")})
    if "p_value" in cols:
        heads["p_value"] = "p-value"
    gt = gt.cols_label(**heads)
    smd = [c for c in cols if c.startswith("smd_")]
    if smd:  # the report's rounding rule (trialkit.tables.display): SMDs are estimates
        gt = gt.fmt(lambda x: format_number(x, "estimate"), columns=smd)
        gt = gt.tab_spanner(label=f"SMD vs {study.arm_labels[study.control_arm]}", columns=smd)
    if "p_value" in cols:
        gt = gt.fmt(lambda x: format_number(x, "p_value"), columns=["p_value"])
    gt = gt.tab_source_note("Continuous: mean (SD), or median [Q1,Q3] when |skewness| > 1 (pooled); "
                            "categorical: n (%) of known values. SMD: arm vs control.")
    return gt


def write_html(gt: GT, name: str, out_dir: str | Path | None) -> None:
    """Write a ``great_tables.GT`` as a stand-alone page ``<out_dir>/tables/<name>.html``.

    Nothing is written when ``out_dir`` is None (interactive use), as ``save_table``. The file is
    written atomically; the same table gives the same bytes.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from trialkit.study import load_study
    >>> df = pd.DataFrame({"arm": ["control", "control", "msc", "msc"], "age": [40.0, 50, 45, 55]})
    >>> gt = render_table_one(table_one(df, load_study(), continuous=["age"], categorical=[]), load_study())
    >>> with tempfile.TemporaryDirectory() as out:
    ...     write_html(gt, "table_one", out)
    ...     page = Path(out) / "tables" / "table_one.html"
    ...     page.exists(), "Baseline characteristics" in page.read_text(encoding="utf-8")
    (True, True)
    >>> write_html(gt, "table_one", None)  # out_dir None: nothing is written
    >>> write_html(gt, "Table 1", None)
    Traceback (most recent call last):
    ...
    ValueError: output name 'Table 1': use lower-case letters, digits and underscores
    """
    import os
    import re
    from pathlib import Path

    if not re.match(r"^[a-z0-9][a-z0-9_]*$", name):
        raise ValueError(f"output name {name!r}: use lower-case letters, digits and underscores")
    if out_dir is None:
        return
    folder = Path(out_dir) / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.html.tmp"
    tmp.write_text(gt.as_raw_html(make_page=True), encoding="utf-8")
    os.replace(tmp, folder / f"{name}.html")


#: the continuous severity scores (columns of ``derive.severity.add_scores``) beside the labs in the
#: baseline correlation matrix (MELD 3.0 and CLIF-C ACLF left out: near copies of MELD-Na / needing
#: organ data the format does not record)
CORRELATION_SCORES = ("meld", "meld_na", "albi", "cossh_aclf_ii")


def correlation_variables(baseline: pd.DataFrame, study: Study) -> list[str]:
    """The variables of the baseline correlation matrix: every declared lab parameter that is not a
    grade and varies at baseline (more than two values, not constant), in the study file's order, then
    the scores of :data:`CORRELATION_SCORES` with more than two values.

    Parameters
    ----------
    baseline : DataFrame
        One row per subject, a column per lab parameter and score.
    study : Study

    Returns
    -------
    list of str

    Examples
    --------
    >>> from trialkit.study import load_study
    >>> study = load_study()
    >>> df = pd.DataFrame({"ALT": [40.0, 80, 120], "TBIL": [100.0, 100, 100], "HE": [0, 1, 2], "meld": [20.0, 25, 30]})
    >>> correlation_variables(df, study)
    ['ALT', 'meld']
    """
    labs = [p for p, s in study.parameters.items() if s.unit.lower() != "grade" and p in baseline
            and baseline[p].notna().sum() > 2 and baseline[p].nunique() > 1]
    return labs + [c for c in CORRELATION_SCORES if c in baseline and baseline[c].notna().sum() > 2]


def baseline_correlations(data: pd.DataFrame, columns: Sequence[str], *, method: str = "spearman") -> pd.DataFrame:
    """Pairwise rank correlations among baseline variables (pairwise complete observations).

    Each pair is ``pingouin.corr`` (the coefficient and p-value are scipy's ``spearmanr`` /
    ``kendalltau``; the 95% interval is pingouin's Fisher-z interval with the Pearson variance
    ``1 / (n - 3)``, an approximation for rank correlations, computed to 6 decimals). The p-values
    are Holm-adjusted over all pairs of the matrix (:func:`trialkit.stats.multiplicity.holm`):
    the matrix is exploratory, and the adjusted p-values say how much of it survives multiplicity.

    Parameters
    ----------
    data : DataFrame
    columns : list of str
        Numeric columns (labs, scores).
    method : {"spearman", "kendall"}

    Returns
    -------
    DataFrame
        One row per unordered pair (``var1`` before ``var2`` in ``columns`` order): ``var1``,
        ``var2``, ``estimate`` (rho or tau), ``ci_low``, ``ci_high``, ``p_value`` (two-sided,
        unadjusted), ``p_adjusted`` (Holm over the pairs), ``n``. Pairs with fewer than 3 complete
        observations or a constant column give NaN (and do not count in the adjustment).

    Examples
    --------
    >>> df = pd.DataFrame({"a": [1, 2, 3, 4.0, 5, 6], "b": [2, 4, 6, 9.0, 8, 12], "c": [4, 3, 2, 1.0, 2, 0]})
    >>> baseline_correlations(df, ["a", "b", "c"]).round(3)
      var1 var2  estimate  ci_low  ci_high  p_value  p_adjusted  n
    0    a    b     0.943   0.559    0.994    0.005       0.010  6
    1    a    c    -0.899  -0.989   -0.322    0.015       0.015  6
    2    b    c    -0.986  -0.998   -0.870    0.000       0.001  6
    """
    import pingouin

    from trialkit.stats.multiplicity import holm

    if method not in ("spearman", "kendall"):
        raise ValueError(f"baseline_correlations: method must be 'spearman' or 'kendall', got {method!r}")
    columns = list(columns)
    rows = []
    rounding = pingouin.options.get("round.column.CI95")
    pingouin.options["round.column.CI95"] = None  # pingouin rounds its displayed interval to 2 decimals
    try:
        for i, a in enumerate(columns):
            for b in columns[i + 1:]:
                pair = data[[a, b]].apply(pd.to_numeric, errors="coerce").astype(float).dropna()
                n = len(pair)
                est = p = lo = hi = float("nan")
                if n >= 3 and pair[a].nunique() > 1 and pair[b].nunique() > 1:
                    res = pingouin.corr(pair[a].to_numpy(), pair[b].to_numpy(), method=method).iloc[0]
                    est, p = float(res["r"]), float(res["p_val"])
                    lo, hi = (float(v) for v in res["CI95"])
                rows.append({"var1": a, "var2": b, "estimate": est, "ci_low": lo, "ci_high": hi, "p_value": p,
                             "n": n})
    finally:
        pingouin.options["round.column.CI95"] = rounding
    out = pd.DataFrame(rows, columns=["var1", "var2", "estimate", "ci_low", "ci_high", "p_value", "n"])
    out.insert(6, "p_adjusted", holm(out["p_value"].to_numpy(dtype=float)))
    return out
