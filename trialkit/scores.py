"""Liver severity scores, exact to the published rules, vectorized with numpy.

MELD (OPTN/UNOS), MELD-Na (OPTN 2016), MELD 3.0 (Kim 2021), Child-Pugh, ALBI, CLIF-C OF with the
EASL-CLIF ACLF grade, CLIF-C ACLF and COSSH-ACLF II: the formulas only. Scoring a
:class:`~trialkit.data.trial.Trial` (units, visits) is :func:`trialkit.derive.severity.add_scores`.

Conventions shared by every score function
------------------------------------------
* Inputs may be scalars, array-likes or pandas Series. Scalars in give a Python ``float`` out;
  Series in give a Series with the same index out (Series must share one index); arrays give arrays.
  Functions returning several columns return a DataFrame (one row for scalar input).
* ``NaN`` in a needed input gives ``NaN`` out. An impossible value (negative bilirubin, INR <= 0,
  ascites not in {0, 1, 2}, infinity, ...) raises ``ValueError`` naming the argument.
* ``units="si"`` (default, as Chinese hospitals report): bilirubin and creatinine in umol/L,
  albumin in g/L. ``units="conventional"``: mg/dL, mg/dL, g/dL. Conversion factors (reference
  section 4.0): bilirubin 17.1 umol/L per mg/dL, creatinine 88.4 umol/L per mg/dL, albumin
  10 g/L per g/dL; for COSSH-ACLF II, urea mmol/L = BUN mg/dL x 0.357.
* Encodings: ``ascites`` 0 none / 1 mild / 2 moderate-severe; ``encephalopathy`` West Haven grade
  0-4; ``female``, ``dialysis`` and the other flags are booleans (or 0/1).
* Rounding is half-up (OPTN / SAS ``round``), never Python's round-half-even; see :func:`meld`.

Sources are cited in each docstring; the test vectors are in ``tests/test_scores.py``.
"""
from __future__ import annotations

from typing import Literal, Union

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = [
    "BILIRUBIN_UMOL_PER_MG_DL", "CREATININE_UMOL_PER_MG_DL", "ALBUMIN_G_L_PER_G_DL",
    "UREA_MMOL_PER_BUN_MG_DL", "round_half_up", "meld", "meld_na", "meld_3", "child_pugh",
    "albi", "clif_c_of", "clif_c_aclf", "cossh_aclf_ii",
]

BILIRUBIN_UMOL_PER_MG_DL = 17.1   # clinical convention (molar mass 584.66 gives 17.104)
CREATININE_UMOL_PER_MG_DL = 88.4  # molar mass 113.12 g/mol
ALBUMIN_G_L_PER_G_DL = 10.0
UREA_MMOL_PER_BUN_MG_DL = 0.357   # 10 / 28.014 (two N atoms per urea molecule)

_EPS = 1e-9  # guard against binary error at a decimal .5 boundary; see round_half_up
_UNITS = ("si", "conventional")

#: A score's input: a number, an array or a pandas Series (the result follows the input's kind).
Values = Union[float, npt.ArrayLike, pd.Series]
#: A score: a float for scalar input, an array for arrays, a Series (same index) for Series input.
Score = Union[float, np.ndarray, pd.Series]
#: Units of the laboratory inputs.
Units = Literal["si", "conventional"]


# --------------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------------
class _Shape:
    """Where the inputs came from: the common broadcast shape and the Series index, if any."""

    def __init__(self, shape, index):
        self.shape, self.index = shape, index

    def wrap(self, x, name):
        x = np.broadcast_to(x, self.shape) if np.shape(x) != self.shape else x
        if self.index is not None:
            return pd.Series(x, index=self.index, name=name)
        return float(x) if np.ndim(x) == 0 else x

    def frame(self, columns):
        if len(self.shape) > 1:
            raise ValueError(f"expected scalars or 1-D inputs, got shape {self.shape}")
        n = self.shape[0] if self.shape else 1
        index = self.index if self.index is not None else pd.RangeIndex(n)
        return pd.DataFrame({k: v if isinstance(v, pd.Categorical) else np.broadcast_to(v, self.shape).reshape(n)
                             for k, v in columns.items()}, index=index)


def _as_float(name, value):
    try:
        if isinstance(value, (pd.Series, pd.Index)):
            return value.to_numpy(dtype=float, na_value=np.nan)
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric; got {str(value)[:60]!r}") from None


def _gather(**inputs):
    """Float arrays broadcast to one shape (``None`` inputs are passed through as ``None``)."""
    index, first, arrays = None, None, {}
    for name, value in inputs.items():
        if value is None:
            continue
        if isinstance(value, pd.Series):
            if index is None:
                index, first = value.index, name
            elif not value.index.equals(index):
                raise ValueError(f"{name} has a different index from {first}; align the Series first")
        arrays[name] = _as_float(name, value)
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{k} {a.shape}" for k, a in arrays.items())
        raise ValueError(f"inputs cannot be broadcast together: {shapes}") from None
    if index is not None and shape != (len(index),):
        raise ValueError(f"inputs of shape {shape} do not match the length of Series {first}")
    # not broadcast here: numpy broadcasts in the arithmetic, and a 0-d flag stays cheap
    return _Shape(shape, index), {k: arrays.get(k) for k in inputs}


def _check(name, a, lo=None, strict=False, allowed=None, what=""):
    """Raise ValueError naming ``name`` if ``a`` holds an impossible (non-NaN) value."""
    if a is None:
        return
    if allowed is not None:
        bad = ~(np.isnan(a) | np.isin(a, allowed))
        rule = f"one of {', '.join(str(v) for v in allowed)}{what}"
    else:
        bad, rule = np.isinf(a), "finite"
        if lo is not None and not bad.any():
            bad = (a <= lo) if strict else (a < lo)
            rule = f"{'>' if strict else '>='} {lo}{what}"
    if bad.any():
        n = int(np.count_nonzero(bad))
        raise ValueError(f"{name} must be {rule}; got {float(a[bad].flat[0])!r} ({n} value{'s' * (n > 1)})")


def _check_units(units):
    if units not in _UNITS:
        raise ValueError(f"units must be 'si' or 'conventional', got {units!r}")


def _nan_where(x, *inputs):
    """``x`` with NaN wherever one of ``inputs`` (arrays or None) is NaN."""
    for a in inputs:
        if a is not None:
            x = np.where(np.isnan(a), np.nan, x)
    return x


def _three(x, lo, hi, lo_incl=True, hi_incl=True):
    """Points 1/2/3 for an increasing scale: 1 below ``lo``, 3 above ``hi`` (NaN stays NaN)."""
    p = 1.0 + ((x >= lo) if lo_incl else (x > lo)) + ((x > hi) if hi_incl else (x >= hi))
    return _nan_where(p, x)


def round_half_up(x: Values, decimals: int = 0) -> Score:
    """Round half up (half away from zero for the positive scores here), as OPTN and SAS do.

    ``floor(x * 10**decimals + 0.5 + 1e-9) / 10**decimals``. The ``1e-9`` guard: a score whose
    exact decimal value is, say, 2.15 is computed in binary floating point as 2.1499999999999995
    or 2.1500000000000004 (errors ~1e-15), and plain ``floor(x*10 + 0.5)`` would then round it down
    half of the time. The guard is far above that error and far below any clinically reachable
    difference (inputs carry at most 3-4 significant decimals), so values at a decimal .5 boundary
    always go up. Python's ``round`` and ``numpy.round`` round half to even instead (2.25 -> 2.2).

    Examples
    --------
    >>> round_half_up(2.25, 1), round(2.25, 1)
    (2.3, 2.2)
    >>> round_half_up(17.5)
    18.0
    """
    a = np.asarray(x, dtype=float)
    out = np.floor(a * 10.0 ** decimals + 0.5 + _EPS) / 10.0 ** decimals if decimals else np.floor(a + 0.5 + _EPS)
    if isinstance(x, pd.Series):
        return pd.Series(out, index=x.index, name=x.name)
    return float(out) if out.ndim == 0 else out


def _mg_dl(bilirubin, creatinine, units):
    """Bilirubin and creatinine in mg/dL (new arrays or the inputs themselves)."""
    if units == "si":
        return bilirubin / BILIRUBIN_UMOL_PER_MG_DL, creatinine / CREATININE_UMOL_PER_MG_DL
    return bilirubin, creatinine


def _check_meld_inputs(v):
    _check("bilirubin", v["bilirubin"], 0)
    _check("inr", v["inr"], 0, strict=True)
    _check("creatinine", v["creatinine"], 0)
    _check("dialysis", v.get("dialysis"), allowed=(0, 1), what=" (boolean)")


def _meld_core(shape, bili, inr, creat, dialysis, cap, rounded):
    """10 x MELD(i) in mg/dL units: floors, creatinine cap 4 / dialysis, rounding, cap 40."""
    # fresh arrays of the full shape (0-d for scalars), so the in-place steps below are safe
    cr = np.asarray(np.maximum(np.broadcast_to(creat, shape), 1.0))
    np.minimum(cr, 4.0, out=cr)
    if dialysis is not None and (dialysis.ndim or dialysis != 0):
        cr = _nan_where(np.where(dialysis == 1, 4.0, cr), dialysis)
    x = np.asarray(np.log(np.maximum(np.broadcast_to(bili, shape), 1.0)))
    x *= 0.378
    t = np.log(np.maximum(inr, 1.0))
    t *= 1.12
    x += t
    np.log(cr, out=cr)
    cr *= 0.957
    x += cr
    x += 0.643
    x *= 10.0  # rounding MELD(i) to the tenth and multiplying by 10 = rounding 10*MELD(i) to integer
    if rounded:
        x += 0.5 + _EPS
        np.floor(x, out=x)
    if cap:
        np.minimum(x, 40.0, out=x)
    return x


# --------------------------------------------------------------------------------------------
# MELD family
# --------------------------------------------------------------------------------------------
def meld(bilirubin: Values, inr: Values, creatinine: Values, dialysis: Values = False, *, units: Units = "si",
         cap: bool = True, rounded: bool = True) -> Score:
    """MELD score by the OPTN/UNOS rule (the pre-2016 allocation MELD, "MELD(i)" in policy).

    ``MELD(i) = 0.957 ln(Cr) + 0.378 ln(bilirubin) + 1.120 ln(INR) + 0.643`` (mg/dL), with lab
    values below 1.0 set to 1.0, creatinine above 4.0 set to 4.0 and creatinine set to 4.0 on
    dialysis (>= 2 dialyses in the past week or 24 h of CVVHD; overrides a low creatinine).
    MELD(i) is rounded half-up to the tenth and multiplied by 10, and capped at 40 (min is 6).

    Source: OPTN policy 9.1.D, as quoted in MIT-LCP mimic-code ``meld.sql`` and implemented in the
    Lopez SAS macro (2023); Kamath PS et al., Hepatology 2001;33:464-470 (original model). The
    0.643 constant is always used (no etiology term), as UNOS does.

    Parameters
    ----------
    bilirubin, creatinine : float, array-like or Series
        umol/L with ``units="si"`` (divided by 17.1 and 88.4), mg/dL with ``"conventional"``.
    inr : float, array-like or Series
        International normalized ratio, > 0.
    dialysis : bool, array-like or Series, default False
        Dialysis >= 2 times in the past week, or 24 h of CVVHD.
    units : {"si", "conventional"}
    cap : bool, default True
        Bound the score at 40 (OPTN). ``False`` leaves it unbounded above.
    rounded : bool, default True
        ``False`` returns the continuous 10 x MELD(i) (same bounds), for modelling.

    Returns
    -------
    float, ndarray or Series
        The MELD score (integer-valued unless ``rounded=False``).

    Notes
    -----
    Rounding is half-up, as OPTN/SAS do: ``floor(10 MELD(i) + 0.5 + 1e-9)``; see
    :func:`round_half_up` for why the 1e-9 guard is needed. Rounding to the tenth matters: the
    web form ``9.57 ln Cr + 3.78 ln bili + 11.2 ln INR + 6.43`` without it can differ by 1 point.

    Examples
    --------
    >>> meld(bilirubin=442.5, inr=2.08, creatinine=81)        # umol/L, typical HBV-ACLF
    27.0
    >>> meld(bilirubin=1.9, inr=1.2, creatinine=1.3, units="conventional")
    13.0
    >>> meld(bilirubin=2, inr=1.8, creatinine=0.8, dialysis=True, units="conventional")
    29.0
    >>> round(meld(bilirubin=54, inr=2.0, creatinine=170, rounded=False), 3)  # continuous
    24.798
    """
    _check_units(units)
    shape, v = _gather(bilirubin=bilirubin, inr=inr, creatinine=creatinine, dialysis=dialysis)
    _check_meld_inputs(v)
    bili, creat = _mg_dl(v["bilirubin"], v["creatinine"], units)
    return shape.wrap(_meld_core(shape.shape, bili, v["inr"], creat, v["dialysis"], cap, rounded), "meld")


def meld_na(bilirubin: Values, inr: Values, creatinine: Values, sodium: Values, dialysis: Values = False, *,
            units: Units = "si", cap: bool = True, rounded: bool = True) -> Score:
    """MELD-Na by the OPTN January 2016 rule.

    ``MELD-Na = MELD + 1.32 (137 - Na) - 0.033 MELD (137 - Na)`` when MELD > 11, else MELD,
    where MELD is the rounded (and, with ``cap=True``, 40-capped) score of :func:`meld` and Na
    (mmol/L) is bounded to [125, 137]. The result is rounded half-up to an integer. Because
    1.32 / 0.033 = 40, MELD-Na never exceeds 40 when MELD <= 40.

    Source: OPTN policy 9.1.D (2016), via MIT-LCP mimic-code and the Lopez SAS macro (2023).
    Not the Kim 2008 NEJM / Biggins 2006 form ``MELD - Na - 0.025 MELD (140 - Na) + 140``
    (which transplantr's ``meld_na`` implements).

    Parameters
    ----------
    bilirubin, inr, creatinine, dialysis, units, cap
        As in :func:`meld`.
    sodium : float, array-like or Series
        Serum sodium, mmol/L, > 0. Missing sodium gives NaN even when MELD <= 11.
    rounded : bool, default True
        ``False``: continuous MELD (10 x MELD(i)) in the formula and no final rounding.

    Returns
    -------
    float, ndarray or Series

    Examples
    --------
    >>> meld_na(bilirubin=2, inr=1.8, creatinine=2, sodium=131, units="conventional")
    26.0
    >>> meld_na(bilirubin=0.5, inr=0.9, creatinine=0.6, sodium=125, units="conventional")  # MELD 6
    6.0
    """
    _check_units(units)
    shape, v = _gather(bilirubin=bilirubin, inr=inr, creatinine=creatinine, sodium=sodium,
                       dialysis=dialysis)
    _check_meld_inputs(v)
    _check("sodium", v["sodium"], 0, strict=True)
    bili, creat = _mg_dl(v["bilirubin"], v["creatinine"], units)
    m = _meld_core(shape.shape, bili, v["inr"], creat, v["dialysis"], cap, rounded)
    d = 137.0 - np.clip(v["sodium"], 125.0, 137.0)
    out = m + np.where(m > 11, (1.32 - 0.033 * m) * d, 0.0 * d)  # 0*d carries NaN sodium through
    return shape.wrap(round_half_up(out) if rounded else out, "meld_na")


def meld_3(bilirubin: Values, inr: Values, creatinine: Values, sodium: Values, albumin: Values, female: Values,
           age: Values | None = None, dialysis: Values = False, *, units: Units = "si", cap: bool = True,
           rounded: bool = True) -> Score:
    """MELD 3.0 (Kim WR, Mannalithara A, Heimbach JK, et al. Gastroenterology 2021;161:1887-1895).

    ``1.33 F + 4.56 ln(bili) + 0.82 (137 - Na) - 0.24 (137 - Na) ln(bili) + 9.09 ln(INR)
    + 11.14 ln(Cr) + 1.85 (3.5 - Alb) - 1.83 (3.5 - Alb) ln(Cr) + 6`` with bilirubin and
    creatinine in mg/dL, albumin in g/dL, Na in mmol/L. Bounds: bilirubin, INR, creatinine < 1.0
    set to 1.0; creatinine capped at 3.0 (not 4.0) and set to 3.0 on dialysis; Na bounded to
    [125, 137]; albumin to [1.5, 3.5] g/dL. Rounded half-up to an integer. OPTN policy since
    13 July 2023; coded as in the Lopez SAS macro (2023).

    ``F`` = 1 for females and for every candidate younger than 18 whatever the sex (the macro's
    ``1.33 female (age >= 18) - 1.33 (age >= 18) + 7.33``). OPTN scores candidates under 12 with
    PELD, not MELD 3.0; for them this function still applies the macro's formula.

    The cap at 40: the paper scaled the model without presuming a cap; OPTN policy 9.1.D and the
    SAS macro bound the allocation score to [6, 40]. ``cap=True`` (default) does the latter;
    ``cap=False`` gives the raw rounded value (which may exceed 40).

    Parameters
    ----------
    bilirubin, inr, creatinine, dialysis, units
        As in :func:`meld`.
    sodium : float, array-like or Series
        mmol/L, > 0.
    albumin : float, array-like or Series
        g/L with ``units="si"`` (divided by 10), g/dL with ``"conventional"``.
    female : bool, array-like or Series
    age : float, array-like or Series, optional
        Years. Without it, the female term follows sex only (all candidates taken as adults).
    cap : bool, default True
        Bound to [6, 40].
    rounded : bool, default True
        ``False`` returns the unrounded value (bounded if ``cap``).

    Returns
    -------
    float, ndarray or Series

    Examples
    --------
    >>> meld_3(bilirubin=2.5, inr=1.0, creatinine=1.2, sodium=131, albumin=3.8, female=False,
    ...        units="conventional")                       # Kim 2021 Table 4 example (row 1)
    16.0
    >>> meld_3(bilirubin=442.5, inr=2.08, creatinine=81, sodium=134, albumin=30, female=False)
    29.0
    >>> meld_3(bilirubin=442.5, inr=2.08, creatinine=81, sodium=134, albumin=30, female=False,
    ...        age=17)                                     # under 18: female term applies
    30.0
    """
    _check_units(units)
    shape, v = _gather(bilirubin=bilirubin, inr=inr, creatinine=creatinine, sodium=sodium,
                       albumin=albumin, female=female, age=age, dialysis=dialysis)
    _check_meld_inputs(v)
    _check("sodium", v["sodium"], 0, strict=True)
    _check("albumin", v["albumin"], 0)
    _check("female", v["female"], allowed=(0, 1), what=" (boolean)")
    _check("age", v["age"], 0)
    bili, creat = _mg_dl(v["bilirubin"], v["creatinine"], units)
    alb = v["albumin"] / ALBUMIN_G_L_PER_G_DL if units == "si" else v["albumin"]
    cr = np.minimum(np.maximum(creat, 1.0), 3.0)
    if v["dialysis"] is not None:
        cr = _nan_where(np.where(v["dialysis"] == 1, 3.0, cr), v["dialysis"])
    lb, lc = np.log(np.maximum(bili, 1.0)), np.log(cr)
    dn = 137.0 - np.clip(v["sodium"], 125.0, 137.0)
    da = 3.5 - np.clip(alb, 1.5, 3.5)
    fem = v["female"]
    if v["age"] is not None:
        fem = _nan_where(np.where(v["age"] < 18, 1.0, fem), v["age"])
    x = (1.33 * fem + 4.56 * lb + 0.82 * dn - 0.24 * dn * lb + 9.09 * np.log(np.maximum(v["inr"], 1.0))
         + 11.14 * lc + 1.85 * da - 1.83 * da * lc + 6.0)
    if rounded:
        x = round_half_up(x)
    if cap:
        x = np.clip(x, 6.0, 40.0)
    return shape.wrap(x, "meld_3")


# --------------------------------------------------------------------------------------------
# Child-Pugh and ALBI
# --------------------------------------------------------------------------------------------
_CP_BILI = {"exact": (34.2, 51.3), "chinese": (34.0, 51.0)}


def child_pugh(*, bilirubin: Values, albumin: Values, inr: Values | None = None, ascites: Values,
               encephalopathy: Values, units: Units = "si", pt_prolongation: Values | None = None,
               bilirubin_cutpoints: Literal["exact", "chinese"] = "exact") -> pd.DataFrame:
    """Child-Pugh (Child-Turcotte-Pugh) points and class.

    Source: Child CG, Turcotte JG 1964; Pugh RNH et al., Br J Surg 1973;60:646-649 (PT bands).
    Thresholds as tabulated in MedCalc-Bench ``child_pugh_score.py`` and medx ``child_pugh.ts``:

    ================  =========  ================  ==========
    parameter         1 point    2 points          3 points
    ================  =========  ================  ==========
    bilirubin mg/dL   < 2        2 - 3             > 3
    albumin g/dL      > 3.5      2.8 - 3.5         < 2.8
    INR               < 1.7      1.7 - 2.3         > 2.3
    PT s above ctrl   < 4        4 - 6             > 6
    ascites           0 none     1 mild            2 mod.-severe
    encephalopathy    grade 0    grade 1-2         grade 3-4
    ================  =========  ================  ==========

    Boundaries fall in the middle band: bilirubin exactly 2 or 3 mg/dL, albumin exactly 2.8 or
    3.5 g/dL, INR exactly 1.7 or 2.3 and PT exactly 4 or 6 s all score 2 points. Why: the table
    writes the middle band as a closed range ("2-3") and the outer bands as strict inequalities
    ("< 2", "> 3"), and most implementations code it so (``< 2 / <= 3``, ``> 3.5 / >= 2.8``).
    MedCalc-Bench's code does not: bilirubin exactly 2.0 matches none of its branches, 3.0 scores
    3 and albumin 2.8 scores 3, although its own table text says otherwise.

    Cut-points are compared in the units of the input, so that no conversion error moves a value
    across one. In SI units albumin uses 28/35 g/L. Bilirubin uses ``bilirubin_cutpoints``:
    ``"exact"`` (default) 34.2/51.3 umol/L (= 2/3 mg/dL x 17.1), or ``"chinese"`` 34/51 umol/L,
    the rounded values of Chinese papers. Ignored with ``units="conventional"``.

    Classes: A 5-6, B 7-9, C 10-15.

    Parameters
    ----------
    bilirubin, albumin : float, array-like or Series
        umol/L and g/L (``units="si"``) or mg/dL and g/dL (``"conventional"``).
    inr : float, array-like or Series, optional
        Give either ``inr`` or ``pt_prolongation`` (seconds above control), not both.
    ascites : {0, 1, 2}
    encephalopathy : {0, 1, 2, 3, 4}
        West Haven grade.

    Returns
    -------
    DataFrame
        ``points`` (5-15, float) and ``class`` (ordered categorical A < B < C); NaN if any input
        is missing. Index: the Series index, else 0..n-1.

    Examples
    --------
    >>> child_pugh(bilirubin=3.2, albumin=2.6, inr=2.0, ascites=1, encephalopathy=1,
    ...            units="conventional")                   # medx test vector
       points class
    0    12.0     C
    >>> child_pugh(bilirubin=[300, 20], albumin=[30, 36], inr=[2.0, 1.2], ascites=[1, 0],
    ...            encephalopathy=[0, 0])
       points class
    0    10.0     C
    1     5.0     A
    """
    _check_units(units)
    if (inr is None) == (pt_prolongation is None):
        raise ValueError("give exactly one of inr and pt_prolongation")
    if bilirubin_cutpoints not in _CP_BILI:
        raise ValueError(f"bilirubin_cutpoints must be 'exact' or 'chinese', got {bilirubin_cutpoints!r}")
    shape, v = _gather(bilirubin=bilirubin, albumin=albumin, inr=inr, ascites=ascites,
                       encephalopathy=encephalopathy, pt_prolongation=pt_prolongation)
    _check("bilirubin", v["bilirubin"], 0)
    _check("albumin", v["albumin"], 0)
    _check("inr", v["inr"], 0, strict=True)
    _check("pt_prolongation", v["pt_prolongation"])
    _check("ascites", v["ascites"], allowed=(0, 1, 2), what=" (none, mild, moderate-severe)")
    _check("encephalopathy", v["encephalopathy"], allowed=(0, 1, 2, 3, 4), what=" (West Haven)")
    si = units == "si"
    b_cut = _CP_BILI[bilirubin_cutpoints] if si else (2.0, 3.0)
    a_lo, a_hi = (28.0, 35.0) if si else (2.8, 3.5)
    alb = v["albumin"]
    points = (_three(v["bilirubin"], *b_cut)
              + _nan_where(1.0 + (alb <= a_hi) + (alb < a_lo), alb)
              + (_three(v["inr"], 1.7, 2.3) if inr is not None else _three(v["pt_prolongation"], 4.0, 6.0))
              + 1.0 + v["ascites"]
              + _three(v["encephalopathy"], 1, 2))
    points = np.asarray(points, dtype=float)
    codes = np.where(np.isnan(points), -1, (points >= 7).astype(int) + (points >= 10))
    cls = pd.Categorical.from_codes(np.reshape(codes, -1), ["A", "B", "C"], ordered=True)
    return shape.frame({"points": points, "class": cls})


def albi(bilirubin: Values, albumin: Values, *, units: Units = "si") -> pd.DataFrame:
    """ALBI score and grade (Johnson PJ, Berhane S, Kagebayashi C, et al. J Clin Oncol 2015;33:550-558).

    ``ALBI = 0.66 log10(bilirubin umol/L) - 0.085 albumin g/L`` (log10, SI units; conventional
    input is converted with 17.1 and 10). Grades: 1 if score <= -2.60, 2 if -2.60 < score <= -1.39,
    3 if score > -1.39. A score within 1e-9 of a cut-point counts as on it (binary-float guard,
    as in :func:`round_half_up`).

    Parameters
    ----------
    bilirubin : float, array-like or Series
        > 0 (its logarithm is taken).
    albumin : float, array-like or Series
    units : {"si", "conventional"}

    Returns
    -------
    DataFrame
        ``score`` (float) and ``grade`` (1-3, float; NaN if an input is missing).

    Examples
    --------
    >>> albi(bilirubin=[17, 300], albumin=[40, 30]).round(4)
        score  grade
    0 -2.5879    2.0
    1 -0.9151    3.0
    """
    _check_units(units)
    shape, v = _gather(bilirubin=bilirubin, albumin=albumin)
    _check("bilirubin", v["bilirubin"], 0, strict=True, what=" (ALBI takes its logarithm)")
    _check("albumin", v["albumin"], 0)
    bili, alb = v["bilirubin"], v["albumin"]
    if units == "conventional":
        bili, alb = bili * BILIRUBIN_UMOL_PER_MG_DL, alb * ALBUMIN_G_L_PER_G_DL
    score = 0.66 * np.log10(bili) - 0.085 * alb
    grade = _nan_where(1.0 + (score > -2.60 + _EPS) + (score > -1.39 + _EPS), score)
    return shape.frame({"score": score, "grade": grade})


# --------------------------------------------------------------------------------------------
# CLIF-C and COSSH
# --------------------------------------------------------------------------------------------
def _optional(a, normal, missing_as_normal):
    """An optional input as an array: NaN where missing, or ``normal`` when requested."""
    if missing_as_normal:
        return np.where(np.isnan(a), normal, a)
    return a


def _max_known(a, b):
    """max(a, b), NaN if either is NaN, unless the known one is already the maximum 3."""
    m = np.fmax(a, b)
    return np.where((np.isnan(a) | np.isnan(b)) & ~(m >= 3), np.nan, m)


def clif_c_of(*, bilirubin: Values, creatinine: Values, encephalopathy: Values, inr: Values,
              mean_arterial_pressure: Values | None = None, vasopressors: Values | None = None,
              pao2_fio2: Values | None = None, spo2_fio2: Values | None = None, rrt: Values | None = None,
              units: Units = "si", missing_as_normal: bool = False) -> pd.DataFrame:
    """CLIF-C OF organ sub-scores, total, organ failures and EASL-CLIF ACLF grade.

    Source: Jalan R et al., J Hepatol 2014;61:1038-1047 (CLIF-C OF; simplified CLIF-SOFA, Gut
    2017 Table 7); ACLF grades of Moreau R et al., Gastroenterology 2013 (CANONIC), as on efclif.com.

    ============  =================  ====================  =====================
    organ         1                  2                     3
    ============  =================  ====================  =====================
    liver         bili < 6 mg/dL     6 <= bili <= 12       > 12
    kidney        Cr < 2 mg/dL       2 <= Cr < 3.5         >= 3.5 or RRT
    brain         HE grade 0         grade 1-2             grade 3-4
    coagulation   INR < 2.0          2.0 <= INR < 2.5      >= 2.5
    circulation   MAP >= 70 mmHg     MAP < 70              vasopressors
    respiration   PaO2/FiO2 > 300    200 < P/F <= 300      <= 200
                  (SpO2/FiO2 > 357)  (214 < S/F <= 357)    (<= 214)
    ============  =================  ====================  =====================

    Organ failure: a sub-score of 3, except kidney failure = sub-score >= 2 (creatinine >= 2
    mg/dL or RRT). SI cut-points are the exact conversions (102.6/205.2 umol/L bilirubin,
    132.6/176.8/309.4 umol/L creatinine). ACLF grade: 0 = no organ failure, or a single non-kidney
    failure with creatinine < 1.5 mg/dL and no HE (a single brain failure: creatinine < 1.5);
    1 = single kidney failure, or a single liver/coagulation/circulation/respiration failure with
    creatinine 1.5-1.9 and/or HE grade 1-2, or a single brain failure with creatinine 1.5-1.9;
    2 = two organ failures; 3 = three or more.

    Missing data: a sub-score is NaN when a missing input could change it (vasopressors unknown
    and MAP < 70, say), but known when the known inputs already give 3 (vasopressors = True,
    creatinine >= 3.5). With ``missing_as_normal=True`` a missing MAP, vasopressors, PaO2/FiO2,
    SpO2/FiO2 or RRT is taken as normal (MAP >= 70, none, > 300, > 357, no RRT): use it only when
    those were truly not abnormal, e.g. a trial that did not record them in ward patients. The
    labs and HE grade are never imputed. Total, organ failures and grade are NaN if any sub-score is.

    Parameters
    ----------
    bilirubin, creatinine : float, array-like or Series
        umol/L (``units="si"``) or mg/dL (``"conventional"``).
    encephalopathy : West Haven grade 0-4
    inr : float, array-like or Series
    mean_arterial_pressure : mmHg, optional
    vasopressors, rrt : bool, optional
        Vasopressor use; renal replacement therapy.
    pao2_fio2, spo2_fio2 : optional
        PaO2 (mmHg) / FiO2 (fraction); SpO2/FiO2 is used where PaO2/FiO2 is missing.
    missing_as_normal : bool, default False

    Returns
    -------
    DataFrame
        ``liver``, ``kidney``, ``brain``, ``coagulation``, ``circulation``, ``respiration``,
        ``clif_c_of`` (6-18), ``organ_failures`` (0-6), ``aclf_grade`` (0-3); all float.

    Examples
    --------
    >>> of = clif_c_of(bilirubin=[300, 300], creatinine=[150, 150], encephalopathy=[1, 1],
    ...                inr=[1.8, 2.6], missing_as_normal=True)
    >>> of[["liver", "kidney", "brain", "coagulation", "clif_c_of", "organ_failures", "aclf_grade"]]
       liver  kidney  brain  coagulation  clif_c_of  organ_failures  aclf_grade
    0    3.0     1.0    2.0          1.0        9.0             1.0         1.0
    1    3.0     1.0    2.0          3.0       11.0             2.0         2.0
    >>> print(clif_c_of(bilirubin=300, creatinine=150, encephalopathy=1, inr=2.6)["clif_c_of"].iloc[0])
    nan
    """
    _check_units(units)
    shape, v = _gather(bilirubin=bilirubin, creatinine=creatinine, encephalopathy=encephalopathy,
                       inr=inr, map=mean_arterial_pressure, vaso=vasopressors, pf=pao2_fio2,
                       sf=spo2_fio2, rrt=rrt)
    _check("bilirubin", v["bilirubin"], 0)
    _check("creatinine", v["creatinine"], 0)
    _check("encephalopathy", v["encephalopathy"], allowed=(0, 1, 2, 3, 4), what=" (West Haven)")
    _check("inr", v["inr"], 0, strict=True)
    _check("mean_arterial_pressure", v["map"], 0)
    _check("vasopressors", v["vaso"], allowed=(0, 1), what=" (boolean)")
    _check("pao2_fio2", v["pf"], 0)
    _check("spo2_fio2", v["sf"], 0)
    _check("rrt", v["rrt"], allowed=(0, 1), what=" (boolean)")
    nan = np.full(shape.shape, np.nan)
    opt = {k: _optional(nan if v[k] is None else v[k], normal, missing_as_normal)
           for k, normal in (("map", 70.0), ("vaso", 0.0), ("pf", 301.0), ("sf", 358.0), ("rrt", 0.0))}
    si = units == "si"
    cr = v["creatinine"]
    liver = _three(v["bilirubin"], *((102.6, 205.2) if si else (6.0, 12.0)))
    kidney = _max_known(_three(cr, *((176.8, 309.4) if si else (2.0, 3.5)), hi_incl=False),
                        _nan_where(np.where(opt["rrt"] == 1, 3.0, 1.0), opt["rrt"]))
    he = v["encephalopathy"]
    brain = _three(he, 1, 2)
    coag = _three(v["inr"], 2.0, 2.5, hi_incl=False)
    circ = _max_known(_nan_where(np.where(opt["map"] < 70, 2.0, 1.0), opt["map"]),
                      _nan_where(np.where(opt["vaso"] == 1, 3.0, 1.0), opt["vaso"]))
    pf = _nan_where(3.0 - (opt["pf"] > 200) - (opt["pf"] > 300), opt["pf"])
    sf = _nan_where(3.0 - (opt["sf"] > 214) - (opt["sf"] > 357), opt["sf"])
    resp = np.where(np.isnan(pf), sf, pf)
    total = liver + kidney + brain + coag + circ + resp
    kid_f, brain_f = kidney >= 2, brain == 3
    # start from 0.0: in numpy bool + bool is a logical OR, not a count
    n = _nan_where(0.0 + (liver == 3) + kid_f + brain_f + (coag == 3) + (circ == 3) + (resp == 3), total)
    cr_mid = (cr >= 132.6) & (cr < 176.8) if si else (cr >= 1.5) & (cr < 2.0)
    he_mild = (he >= 1) & (he <= 2)
    single_g1 = kid_f | (brain_f & cr_mid) | (~kid_f & ~brain_f & (cr_mid | he_mild))
    grade = _nan_where(np.select([n == 0, n == 1, n == 2], [0.0, single_g1 * 1.0, 2.0], 3.0), n)
    return shape.frame({"liver": liver, "kidney": kidney, "brain": brain, "coagulation": coag,
                        "circulation": circ, "respiration": resp, "clif_c_of": total,
                        "organ_failures": n, "aclf_grade": grade})


def clif_c_aclf(of_score: Values, age: Values, wbc: Values) -> Score:
    """CLIF-C ACLF score (Jalan R et al., J Hepatol 2014;61:1038-1047; formula as on efclif.com).

    ``10 x (0.33 CLIF-C OF + 0.04 age + 0.63 ln(WBC 10^9/L) - 2)``, unrounded.

    Parameters
    ----------
    of_score : CLIF-C OF total, 6-18 (see :func:`clif_c_of`)
    age : years
    wbc : white blood cells, 10^9/L, > 0

    Examples
    --------
    >>> round(clif_c_aclf(of_score=10, age=50, wbc=10), 3)
    47.506
    """
    shape, v = _gather(of_score=of_score, age=age, wbc=wbc)
    _check("of_score", v["of_score"], 6, what=" (CLIF-C OF ranges 6-18)")
    if np.any(v["of_score"] > 18):
        raise ValueError(f"of_score must be <= 18 (CLIF-C OF ranges 6-18); got {float(np.nanmax(v['of_score']))!r}")
    _check("age", v["age"], 0)
    _check("wbc", v["wbc"], 0, strict=True, what=" (its logarithm is taken)")
    x = 10.0 * (0.33 * v["of_score"] + 0.04 * v["age"] + 0.63 * np.log(v["wbc"]) - 2.0)
    return shape.wrap(x, "clif_c_aclf")


def cossh_aclf_ii(inr: Values, encephalopathy: Values, neutrophils: Values, bilirubin: Values, urea: Values,
                  age: Values, *, units: Units = "si") -> Score:
    """COSSH-ACLF II score (Li J, Liang X, You S, et al. J Hepatol 2021;75:1104-1115).

    ``1.649 ln(INR) + 0.457 HE score + 0.425 ln(neutrophils 10^9/L) + 0.396 ln(TB umol/L)
    + 0.576 ln(urea mmol/L) + 0.033 age`` (formula from the Zhejiang University release of
    7 July 2021). HE score: 1 = no HE, 2 = West Haven grade 1-2, 3 = grade 3-4 (the coding is
    from memory in the project reference, unverified against the paper). Unrounded.

    Parameters
    ----------
    inr, neutrophils, age
        Neutrophils in 10^9/L.
    encephalopathy : West Haven grade 0-4 (converted to the HE score above)
    bilirubin : umol/L (``units="si"``) or mg/dL (``"conventional"``, x 17.1)
    urea : urea mmol/L (``"si"``) or blood urea nitrogen (BUN) mg/dL (``"conventional"``, x 0.357)

    Examples
    --------
    >>> round(cossh_aclf_ii(inr=2.0, encephalopathy=0, neutrophils=5, bilirubin=300, urea=5,
    ...                     age=45), 4)
    6.9547
    """
    _check_units(units)
    shape, v = _gather(inr=inr, encephalopathy=encephalopathy, neutrophils=neutrophils,
                       bilirubin=bilirubin, urea=urea, age=age)
    for name in ("inr", "neutrophils", "bilirubin", "urea"):
        _check(name, v[name], 0, strict=True, what=" (its logarithm is taken)")
    _check("encephalopathy", v["encephalopathy"], allowed=(0, 1, 2, 3, 4), what=" (West Haven)")
    _check("age", v["age"], 0)
    bili, urea = v["bilirubin"], v["urea"]
    if units == "conventional":
        bili, urea = bili * BILIRUBIN_UMOL_PER_MG_DL, urea * UREA_MMOL_PER_BUN_MG_DL
    he_score = _three(v["encephalopathy"], 1, 2)
    x = (1.649 * np.log(v["inr"]) + 0.457 * he_score + 0.425 * np.log(v["neutrophils"])
         + 0.396 * np.log(bili) + 0.576 * np.log(urea) + 0.033 * v["age"])
    return shape.wrap(x, "cossh_aclf_ii")
