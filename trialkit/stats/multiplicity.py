"""Multiplicity: which p-values are confirmatory, Holm adjustment within secondary families.

The pre-specified primary hypothesis is tested at the full alpha (confirmatory). Each secondary
family (e.g. the week-24 lab contrasts) is Holm-adjusted within itself (Holm, Scand J Stat 1979);
its adjusted p-values control the family-wise error within that family only, so they are
"supportive", not confirmatory. Everything else is exploratory: reported unadjusted and labelled so.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"family": ["primary", "labs", "labs", "labs", "other"],
...                   "hypothesis": ["MSC survival", "ALT", "TBIL", "ALB", "subgroup"],
...                   "p_value": [0.03, 0.01, 0.04, 0.03, 0.002]})
>>> multiplicity_table(t, primary="primary", secondary=["labs"])[["hypothesis", "p_adjusted", "role"]]
     hypothesis  p_adjusted                        role
0  MSC survival        0.03                confirmatory
1           ALT        0.03  secondary (Holm in family)
2          TBIL        0.06  secondary (Holm in family)
3           ALB        0.06  secondary (Holm in family)
4      subgroup         NaN    exploratory (unadjusted)
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["holm", "multiplicity_table", "hypotheses", "family_summary"]


def holm(p_values: npt.ArrayLike) -> np.ndarray:
    """Holm step-down adjusted p-values (NaN entries stay NaN and do not count).

    ``statsmodels.stats.multitest.multipletests(method="holm")`` on the non-missing p-values (it does
    not accept NaN); same numbers as R's ``p.adjust(method="holm")``.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.06, 0.06]
    >>> holm([0.01, float("nan"), 0.04]).round(3).tolist()
    [0.02, nan, 0.04]
    """
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return out


def multiplicity_table(tests: pd.DataFrame, *, primary: str = "primary", secondary: Sequence[str] = (), alpha: float = 0.05) -> pd.DataFrame:
    """Label every p-value and Holm-adjust the secondary families.

    Parameters
    ----------
    tests : DataFrame
        ``family``, ``hypothesis``, ``p_value`` (other columns are kept).
    primary : str
        The family holding the pre-specified primary hypothesis (should hold one row).
    secondary : sequence of str
        Families Holm-adjusted within themselves.
    alpha : float

    Returns
    -------
    DataFrame
        The input plus ``p_adjusted`` (primary: as is; secondary: Holm; exploratory: NaN), ``role``
        and ``significant`` (adjusted p < alpha, for primary and secondary rows only).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"family": ["primary", "labs", "labs", "labs", "subgroups"],
    ...                   "hypothesis": ["survival", "ALT", "TBIL", "ALB", "age < 40"],
    ...                   "p_value": [0.02, 0.01, 0.04, 0.03, 0.004]})
    >>> multiplicity_table(t, secondary=["labs"])[["family", "hypothesis", "p_value", "p_adjusted", "significant"]]
          family hypothesis  p_value  p_adjusted significant
    0    primary   survival    0.020        0.02        True
    1       labs        ALT    0.010        0.03        True
    2       labs       TBIL    0.040        0.06       False
    3       labs        ALB    0.030        0.06       False
    4  subgroups   age < 40    0.004         NaN         NaN
    """
    out = tests.copy().reset_index(drop=True)
    out["p_adjusted"] = np.nan
    out["role"] = "exploratory (unadjusted)"
    is_p = out["family"] == primary
    out.loc[is_p, "p_adjusted"] = out.loc[is_p, "p_value"]
    out.loc[is_p, "role"] = "confirmatory"
    for fam in secondary:
        sel = out["family"] == fam
        out.loc[sel, "p_adjusted"] = holm(out.loc[sel, "p_value"].to_numpy(dtype=float))
        out.loc[sel, "role"] = "secondary (Holm in family)"
    out["significant"] = (out["p_adjusted"] < alpha).where(out["p_adjusted"].notna())
    return out


def hypotheses(df: pd.DataFrame, family: str, *label_columns: str, p_column: str = "p_value") -> pd.DataFrame:
    """Rows of a results table as hypotheses of one family: ``family``, ``hypothesis`` (the label
    columns joined by " / "), ``p_value``.

    >>> import pandas as pd
    >>> hypotheses(pd.DataFrame({"parameter": ["ALT"], "arm": ["msc"], "p_value": [0.2]}), "labs", "parameter", "arm")
      family hypothesis  p_value
    0   labs  ALT / msc      0.2
    """
    lab = df[list(label_columns)].astype(str).agg(" / ".join, axis=1) if len(df) else pd.Series(dtype=object)
    return pd.DataFrame({"family": family, "hypothesis": lab.to_numpy(dtype=object),
                         "p_value": df[p_column].to_numpy(dtype=float)})


def family_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per family and role of a :func:`multiplicity_table`: ``hypotheses`` and ``significant`` (after
    adjustment; exploratory rows are never counted).

    >>> import pandas as pd
    >>> t = multiplicity_table(pd.DataFrame({"family": ["primary", "labs", "labs"], "hypothesis": ["a", "b", "c"],
    ...                                      "p_value": [0.01, 0.02, 0.5]}), secondary=["labs"])
    >>> family_summary(t)
        family                        role  hypotheses  significant
    0  primary                confirmatory           1            1
    1     labs  secondary (Holm in family)           2            1
    """
    sig = table["significant"].map(lambda v: bool(v) if pd.notna(v) else False)
    out = (table.assign(_sig=sig).groupby(["family", "role"], sort=False)
           .agg(hypotheses=("hypothesis", "size"), significant=("_sig", "sum")).reset_index())
    out["significant"] = out["significant"].astype("int64")
    return out
