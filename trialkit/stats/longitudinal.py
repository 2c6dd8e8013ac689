"""Repeated measures of change from baseline (MMRM-type), LS-means and contrasts to control.

The model, for one parameter on its analysis scale (log for skewed labs)::

    change_iv = mu_v + gamma_v * baseline_i + sum_k beta_kv * T_ik + e_iv

one intercept ``mu_v`` and one baseline slope ``gamma_v`` per post-baseline visit ``v``, and one
effect per treatment column ``T_k`` (0/1 per subject) and visit. The treatment columns are the
arm indicators (``model="arm"``: each arm against control) or the factors of the design and
their interactions (``model="factorial"`` / ``"main"``), read from the study file.

Two covariance structures for the within-subject errors ``e_i``, both fitted by REML:

``"random_intercept"``
    compound symmetry via a subject random intercept, fitted with statsmodels ``MixedLM``
    (R: ``nlme::lme(random = ~1 | subject)``, identical to ``gls(correlation = corCompSymm())``).
    Fixed-effect covariance (X'V⁻¹X)⁻¹ at the REML estimate, t tests with nlme's "containment"
    degrees of freedom (N − subjects − p + 1 for within-subject columns), as ``summary(lme)``.
``"unstructured"``
    an unstructured visit × visit covariance (R: ``nlme::gls(correlation = corSymm(),
    weights = varIdent(~1 | visit))``), the covariance regulators expect for an MMRM.
    statsmodels has no unstructured *residual* covariance, so this REML fit is done here with
    scipy (log-Cholesky parameters, analytic gradient) and checked against R to 1e-6; t tests
    use N − p degrees of freedom, as ``summary(gls)``.

Neither gives Kenward-Roger degrees of freedom (R ``mmrm``/``emmeans``; not available in Python);
with ~100 subjects the difference in CI width is well under 1 %.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(1)
>>> rows = [(f"s{i}", a, v, b, b * 0.1 + (0.5 if a == "t" else 0) + rng.normal(0, .3) + u)
...         for i, (a, b, u) in enumerate(zip(["c", "t"] * 20, rng.normal(5, 1, 40), rng.normal(0, .3, 40)))
...         for v in ["V1", "V2"]]
>>> d = pd.DataFrame(rows, columns=["subject_id", "arm", "visit", "baseline", "change"])
>>> fit = fit_mmrm(d, arms=["c", "t"], visits=["V1", "V2"])
>>> c = contrasts(fit)
>>> c[["arm", "visit", "estimate"]].round(2)
  arm visit  estimate
0   t    V1      0.24
1   t    V2      0.44
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import optimize, stats

if TYPE_CHECKING:
    from trialkit.study import Study

__all__ = ["MMRMFit", "fit_mmrm", "lsmeans", "contrasts", "treatment_design", "analyze_parameters",
           "COVARIANCES"]

COVARIANCES = ("random_intercept", "unstructured")


@dataclass
class MMRMFit:
    """A fitted repeated-measures model (see the module docstring)."""

    params: pd.Series
    cov: pd.DataFrame
    df: pd.Series
    visits: list
    treatments: list
    arm_x: dict  # arm -> {treatment column: 0/1}
    control: str
    covariate_mean: float
    covariance: str
    loglik: float
    variance: dict
    n_obs: int
    n_subjects: int
    alpha: float = 0.05
    info: dict = field(default_factory=dict)

    def estimate(self, weights: dict) -> tuple[float, float, float]:
        """Estimate, standard error and df of the linear combination ``sum w * param``."""
        names = list(weights)
        w = np.array([weights[n] for n in names], dtype=float)
        est = float(w @ self.params[names].to_numpy())
        se = float(np.sqrt(w @ self.cov.loc[names, names].to_numpy() @ w))
        df = float(self.df[names][w != 0].min()) if (w != 0).any() else float(self.df.min())
        return est, se, df


# ------------------------------------------------------------------------------------------------
# design
# ------------------------------------------------------------------------------------------------
def _vname(v: object) -> str:
    return f"visit[{v}]"


def treatment_design(study: Study, model: str = "arm") -> tuple[list[str], dict]:
    """Treatment columns and each arm's values of them.

    Parameters
    ----------
    study : Study
    model : {"arm", "factorial", "main"}
        ``"arm"``: one indicator per non-control arm (named ``arm[<id>]``); ``"factorial"``: the
        factors and all their interactions (named ``msc``, ``pe``, ``msc:pe``); ``"main"``: the
        factors only. Interactions the arms cannot identify are dropped.

    Returns
    -------
    (list of str, dict)
        Column names, and ``{arm: {column: 0/1}}``.

    Examples
    --------
    >>> from trialkit.study import load_study
    >>> cols, x = treatment_design(load_study(), "factorial")
    >>> cols, x["pe_msc"]
    (['msc', 'pe', 'msc:pe'], {'msc': 1, 'pe': 1, 'msc:pe': 1})
    """
    arms = study.arm_ids
    if model == "arm":
        cols = [f"arm[{a}]" for a in arms if a != study.control_arm]
        return cols, {a: {c: int(c == f"arm[{a}]") for c in cols} for a in arms}
    if model not in ("factorial", "main"):
        raise ValueError("model: expected 'arm', 'factorial' or 'main'")
    from trialkit.stats.survival import factorial_terms

    af = study.arm_factors().set_index("arm")
    vals = {}
    full = [np.ones(len(arms))]
    cols = []
    for t in factorial_terms(study, interaction=model == "factorial"):
        v = af.loc[arms, list(t)].astype(int).prod(axis=1).to_numpy()
        cand = np.column_stack([*full, v])
        if v.min() != v.max() and np.linalg.matrix_rank(cand) == cand.shape[1]:
            full.append(v)
            name = ":".join(t)
            cols.append(name)
            vals[name] = dict(zip(arms, v.tolist()))
    return cols, {a: {c: int(vals[c][a]) for c in cols} for a in arms}


def _build_X(data: pd.DataFrame, visits: list, treatments: list[str], arm_x: dict,
             covariate: str | None) -> tuple[np.ndarray, list[str]]:
    vis = data["visit"].to_numpy(dtype=object)
    at = {v: vis == v for v in visits}
    b = data[covariate].to_numpy(dtype=float) if covariate is not None else None
    arm_codes, arm_ids = pd.factorize(data["arm"].to_numpy(dtype=object))
    n_cols = len(visits) * (1 + (covariate is not None) + len(treatments))
    X = np.empty((len(data), n_cols))  # filled column by column: no list of columns beside the matrix
    names: list[str] = []
    for v in visits:
        X[:, len(names)] = at[v]
        names.append(_vname(v))
    if b is not None:
        for v in visits:
            X[:, len(names)] = at[v] * b
            names.append(f"{_vname(v)}:{covariate}")
    for t in treatments:
        tv = np.array([arm_x[a][t] for a in arm_ids], dtype=float)[arm_codes]
        for v in visits:
            X[:, len(names)] = at[v] * tv
            names.append(f"{_vname(v)}:{t}")
    return X, names


# ------------------------------------------------------------------------------------------------
# fitting
# ------------------------------------------------------------------------------------------------
def _nlme_df(X: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """nlme's containment df for a one-level model without intercept (``nlme:::getFixDF``)."""
    n, p = X.shape
    order = np.argsort(groups, kind="stable")
    g = groups[order]
    Xs = X[order]
    starts = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
    # a column is "within" when it varies inside at least one subject
    mn = np.minimum.reduceat(Xs, starts, axis=0)
    mx = np.maximum.reduceat(Xs, starts, axis=0)
    within = (mx - mn > 0).any(axis=0)
    df_within = n - n_groups - within.sum() + 1
    df_between = n_groups - (~within).sum()
    return np.where(within, df_within, df_between).astype(float)


#: Above this many subjects the random-intercept model is fitted by :func:`_fit_random_intercept_sums`
#: instead of statsmodels ``MixedLM`` (whose per-subject Python loop takes hours at 100,000 subjects).
RI_SUMS_FROM = 5000


def _fit_random_intercept(y, X, groups):
    """REML fit of the random-intercept model: statsmodels ``MixedLM`` up to :data:`RI_SUMS_FROM`
    subjects (the default report's numbers), the closed form of :func:`_fit_random_intercept_sums` above."""
    if len(np.unique(groups)) > RI_SUMS_FROM:
        return _fit_random_intercept_sums(y, X, groups)
    return _fit_random_intercept_mixedlm(y, X, groups)


def _fit_random_intercept_mixedlm(y, X, groups):
    from statsmodels.regression.mixed_linear_model import MixedLM

    model = MixedLM(y, X, groups=groups, exog_re=np.ones((len(y), 1)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = model.fit(reml=True, method=["bfgs", "lbfgs", "nm"], gtol=1e-10)
    s2 = float(r.scale)
    tau2 = float(np.asarray(r.cov_re)[0, 0])
    # (X' V^-1 X)^-1 at the REML estimate, V_i = s2 I + tau2 J (nlme's varFix); statsmodels'
    # bse_fe comes from the observed Hessian and differs slightly.
    order = np.argsort(groups, kind="stable")
    Xs, gs = X[order], groups[order]
    starts = np.r_[0, np.flatnonzero(gs[1:] != gs[:-1]) + 1]
    n_g = np.diff(np.r_[starts, len(gs)])
    sx = np.add.reduceat(Xs, starts, axis=0)
    c = tau2 / (s2 + n_g * tau2)
    A = (X.T @ X - (sx * c[:, None]).T @ sx) / s2
    cov = np.linalg.inv(A)
    return np.asarray(r.fe_params, dtype=float), cov, float(r.llf), {"tau2": tau2, "sigma2": s2,
                                                                      "converged": bool(r.converged)}


def _fit_random_intercept_sums(y, X, groups):
    """REML fit of the random-intercept model ``V_i = s2 I + tau2 J`` (compound symmetry) from sums per
    subject, for large trials.

    Hand-written because statsmodels ``MixedLM`` loops over the subjects in Python at every
    evaluation: hours for 100,000 subjects; this takes a second. It solves the same REML equations
    exactly: where ``MixedLM`` converges tightly the two agree to 1e-10 (``tests/test_stats_longitudinal.py``;
    on the default trial's TBIL ``MixedLM`` stops about 1e-8 (relative) short of the optimum this
    one reaches, whose REML score is zero to rounding). With ``g = tau2 / s2`` and
    ``c_i = g / (1 + n_i g)``, ``V_i^-1 = (I - c_i J) / s2``, so every term of the criterion is a sum
    over subjects of their column sums: ``X'V^-1X s2 = X'X - sum_i c_i sx_i sx_i'``, and the same for
    ``X'V^-1y`` and ``y'V^-1y``. ``s2`` is profiled out; the REML criterion in ``log g`` is minimised by
    a bounded scalar search, then Newton steps on its analytic derivative solve for its zero.
    The log-likelihood is statsmodels' (and nlme's) REML log-likelihood.
    """
    n, p = X.shape
    order = np.argsort(groups, kind="stable")
    Xs, ys, gs = X[order], y[order], groups[order]
    starts = np.r_[0, np.flatnonzero(gs[1:] != gs[:-1]) + 1]
    n_g = np.diff(np.r_[starts, len(gs)]).astype(float)
    sx = np.add.reduceat(Xs, starts, axis=0)
    sy = np.add.reduceat(ys, starts)
    XX, Xy, yy = X.T @ X, X.T @ y, float(y @ y)
    m = n - p

    def parts(log_g):
        g = np.exp(log_g)
        c = g / (1 + n_g * g)
        A = XX - (sx * c[:, None]).T @ sx
        b = Xy - (sx * c[:, None]).T @ sy
        beta = np.linalg.solve(A, b)
        rss = yy - float((c * sy ** 2).sum()) - float(b @ beta)
        return g, A, beta, rss

    def crit(log_g):  # -2 REML log-likelihood without the constants
        g, A, _, rss = parts(log_g)
        return m * np.log(rss) + float(np.log1p(n_g * g).sum()) + np.linalg.slogdet(A)[1]

    def slope(log_g):  # d crit / d log g, analytic
        g, A, beta, rss = parts(log_g)
        dc = 1 / (1 + n_g * g) ** 2
        sxb = sx @ beta
        d_rss = -float((dc * sy ** 2).sum()) + 2 * float((dc * sy * sxb).sum()) - float((dc * sxb ** 2).sum())
        d_logdet = -float((dc * np.einsum("ij,ij->i", sx @ np.linalg.inv(A), sx)).sum())
        return g * (m * d_rss / rss + float((n_g / (1 + n_g * g)).sum()) + d_logdet)

    r = optimize.minimize_scalar(crit, bounds=(-25.0, 15.0), method="bounded", options={"xatol": 1e-10})
    x = float(r.x)
    for _ in range(30):  # Newton on the analytic slope (its derivative by central differences)
        d1 = slope(x)
        h = 1e-5
        d2 = (slope(x + h) - slope(x - h)) / (2 * h)
        if not d2 > 0:
            break
        step = -d1 / d2
        x += step
        if abs(step) < 1e-13:
            break
    g, A, beta, rss = parts(x)
    s2 = rss / m
    tau2 = g * s2
    cov = np.linalg.inv(A / s2)  # (X' V^-1 X)^-1 at the REML estimate (nlme's varFix)
    llf = -0.5 * (crit(x) + m * np.log(2 * np.pi) - m * np.log(m) + m)
    converged = bool(np.isfinite(llf) and -25.0 < x < 15.0)
    return beta, cov, float(llf), {"tau2": float(tau2), "sigma2": float(s2), "converged": converged}


def _single_thread():
    """Limit BLAS to one thread: these are thousands of tiny matrix products, for which thread
    start-up dominates (20-100x slower on a busy 2-core machine)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _newton_polish(objective, theta, tol, max_iter=30, gradients=None):
    """Newton steps with a finite-difference Hessian of the analytic gradient (from near the optimum).

    ``gradients(thetas)``, if given, returns the gradients at a stack of parameter vectors at once
    (the 2k central differences of one Hessian in one vectorised evaluation).
    """
    f0, g0 = objective(theta)
    for _ in range(max_iter):
        if np.abs(g0).max() < tol:
            break
        k = len(theta)
        hs = 1e-6 * np.maximum(1.0, np.abs(theta))
        E = np.diag(hs)
        if gradients is not None:
            g = gradients(np.concatenate([theta + E, theta - E]))
            H = (g[:k] - g[k:]).T / (2 * hs)
        else:
            H = np.empty((k, k))
            for j in range(k):
                H[:, j] = (objective(theta + E[j])[1] - objective(theta - E[j])[1]) / (2 * hs[j])
        H = (H + H.T) / 2
        w, V = np.linalg.eigh(H)
        step = -(V / np.maximum(w, 1e-8 * max(w.max(), 1e-12))) @ (V.T @ g0)
        t = 1.0
        while t > 1e-6:
            f1, g1 = objective(theta + t * step)
            if f1 <= f0 + 1e-12 * abs(f0):
                break
            t /= 2
        else:
            break
        theta, f0, g0 = theta + t * step, f1, g1
    return theta


def _fit_unstructured(y, X, groups, vidx, n_visits, tol=1e-10):
    """REML GLS with an unstructured T x T covariance (log-Cholesky), analytic gradient.

    The REML criterion and its gradient are evaluated for a stack of parameter vectors at once from
    sufficient statistics per pattern of observed visits (sums over the pattern's subjects of
    ``X_i ⊗ X_i``, ``y_i ⊗ X_i``, ``y_i ⊗ y_i``, computed once), with one Cholesky factor per pattern:
    an evaluation costs O(patterns × T² p²) whatever the number of subjects (a 100,000-subject trial
    is no slower per step than a 120-subject one), one vector per L-BFGS step, all 2k central
    differences of the Newton polish's Hessian in one call. The GLS coefficients come from a linear solve, not from the inverse, which keeps
    the gradient accurate to about 1e-11 near the optimum.
    """
    n, p = X.shape
    T = n_visits
    # one T-row block per subject, zero rows at the visits it misses; one mask per pattern of
    # observed visits. S restricted to a pattern is inverted as S_pat + I on the missed visits (block
    # diagonal after a permutation: same inverse on the pattern, log-determinant unchanged), then the
    # missed rows and columns are zeroed, so every subject goes through the same batched products.
    order = np.lexsort((vidx, groups))
    # X[order] is copied even when the data are sorted already: OpenBLAS results depend on the
    # buffer's alignment in the last bits, and skipping the copy changes the reported fits
    y, X, groups, vidx = y[order], X[order], groups[order], vidx[order]
    sub = np.r_[0, np.cumsum(groups[1:] != groups[:-1])]
    n_sub = int(sub[-1]) + 1
    seen = np.zeros((n_sub, T), dtype=bool)
    seen[sub, vidx] = True
    masks, pj = np.unique(seen, axis=0, return_inverse=True)
    pj = pj.reshape(-1)
    n_pat = len(masks)
    Xp = np.zeros((n_sub, T, p))
    Xp[sub, vidx] = X
    Yp = np.zeros((n_sub, T))
    Yp[sub, vidx] = y
    counts = np.bincount(pj, minlength=n_pat).astype(float)
    mm = (masks[:, :, None] & masks[:, None, :]).astype(float)  # n_pat x T x T
    fill = np.zeros((n_pat, T, T))
    fill[:, np.arange(T), np.arange(T)] = ~masks
    # sufficient statistics per pattern (every term of the criterion is a sum over subjects of products
    # of X_i and y_i around the pattern's inverse): XX[P,a,b,c,d] = sum_i X_i[a,c] X_i[b,d],
    # yX[P,a,b,d] = sum_i y_i[a] X_i[b,d], yy[P,a,b] = sum_i y_i[a] y_i[b]; an evaluation then costs
    # O(patterns T^2 p^2), whatever the number of subjects
    XX = np.zeros((n_pat, T, T, p, p))
    yX = np.zeros((n_pat, T, T, p))
    yy = np.zeros((n_pat, T, T))
    for j in range(n_pat):
        idx = np.flatnonzero(pj == j)
        Xj, Yj = Xp[idx], Yp[idx]
        Xf = Xj.reshape(len(idx), T * p)
        XX[j] = (Xf.T @ Xf).reshape(T, p, T, p).transpose(0, 2, 1, 3)
        yX[j] = (Yj.T @ Xf).reshape(T, T, p)
        yy[j] = Yj.T @ Yj
    XXf = XX.reshape(n_pat * T * T, p * p)
    yXf = yX.reshape(n_pat * T * T, p)
    del Xp, XX, yX
    tril = np.tril_indices(T)
    diag = tril[0] == tril[1]
    dpos = np.flatnonzero(diag)

    def unpack(thetas):
        L = np.zeros((len(thetas), T, T))
        L[:, tril[0], tril[1]] = np.where(diag, np.exp(thetas), thetas)
        return L

    def chol_inv(M):
        """Inverse and log-determinant of a stack of symmetric positive-definite matrices."""
        C = np.linalg.cholesky(M)
        Ci = np.linalg.inv(C)
        return np.matmul(np.swapaxes(Ci, -1, -2), Ci), 2 * np.log(np.diagonal(C, axis1=-2, axis2=-1)).sum(-1)

    def reml(thetas, full=False):
        """-2 REML log-likelihood (without the constant) and its gradient, for each row of ``thetas``."""
        K = len(thetas)
        L = unpack(thetas)
        S = np.matmul(L, L.transpose(0, 2, 1))
        Sip, ld = chol_inv(S[:, None] * mm + fill)  # K x n_pat x T x T
        Sip *= mm
        logdet = ld @ counts
        Sf = Sip.reshape(K, n_pat * T * T)
        A = (Sf @ XXf).reshape(K, p, p)  # sum_i X_i' S_i^-1 X_i
        A = (A + A.transpose(0, 2, 1)) / 2
        bvec = Sf @ yXf  # sum_i y_i' S_i^-1 X_i
        Ainv, ldA = chol_inv(A)
        beta = np.linalg.solve(A, bvec[:, :, None])[:, :, 0]
        # RR[P] = sum_i R_i R_i' with R_i = y_i - X_i beta; H[P] = sum_i X_i A^-1 X_i'
        yXb = (yXf @ beta.T).T.reshape(K, n_pat, T, T)
        bb = (beta[:, :, None] * beta[:, None, :]).reshape(K, p * p)
        RR = yy[None] - yXb - yXb.transpose(0, 1, 3, 2) + (XXf @ bb.T).T.reshape(K, n_pat, T, T)
        H = (XXf @ Ainv.reshape(K, p * p).T).T.reshape(K, n_pat, T, T)
        quad = (Sip * RR).sum(axis=(1, 2, 3))
        G = (np.einsum("j,kjab->kab", counts, Sip)
             - np.matmul(np.matmul(Sip, RR + H), Sip).sum(axis=1))
        val = logdet + ldA + quad
        gL = 2 * np.matmul(G, L)[:, tril[0], tril[1]]
        gL[:, dpos] *= L[:, tril[0][dpos], tril[0][dpos]]
        if full:
            return val, gL, S, Ainv, beta
        return val, gL

    def objective(theta):
        try:
            val, grad = reml(theta[None])
        except (np.linalg.LinAlgError, ValueError):
            return np.inf, np.zeros_like(theta)
        return float(val[0]), grad[0]

    def gradients(thetas):
        try:
            return reml(thetas)[1]
        except (np.linalg.LinAlgError, ValueError):  # one of them not positive definite: one at a time
            return np.array([objective(t)[1] for t in thetas])

    # start: pairwise covariance of OLS residuals, made positive definite
    beta0 = np.linalg.lstsq(X, y, rcond=None)[0]
    res = y - X @ beta0
    W = pd.DataFrame({"g": groups, "v": vidx, "r": res}).pivot(index="g", columns="v", values="r")
    W = W.reindex(columns=range(T))
    S0 = W.cov(min_periods=2).to_numpy()
    S0 = np.where(np.isfinite(S0), S0, 0.0)
    dvals = np.nanvar(W.to_numpy(), axis=0)
    S0[np.diag_indices(T)] = np.where(np.isfinite(dvals) & (dvals > 0), dvals, np.nanmean(dvals))
    w, V = np.linalg.eigh(S0)
    S0 = (V * np.maximum(w, 1e-3 * w.max())) @ V.T
    L0 = np.linalg.cholesky(S0)
    theta0 = np.where(diag, np.log(np.diag(L0)[tril[0]]), L0[tril])
    r = optimize.minimize(objective, theta0, jac=True, method="L-BFGS-B",
                          options={"maxiter": 5000, "maxcor": 50, "ftol": 1e-15, "gtol": tol})
    # polish: Newton steps from the L-BFGS solution
    theta = _newton_polish(objective, r.x, tol, gradients=gradients)
    fval, grad, S, cov, beta = (x[0] for x in reml(theta[None], full=True))
    loglik = -0.5 * (fval + (n - p) * np.log(2 * np.pi))
    gnorm = float(np.abs(grad).max())
    return beta, cov, float(loglik), {"Sigma": S, "converged": bool(gnorm < 1e-5), "max_abs_gradient": gnorm}


def fit_mmrm(data: pd.DataFrame, *, arms: list | None = None, control: str | None = None,
             study: Study | None = None, model: str = "arm",
             visits: list | None = None, dv: str = "change", covariate: str | None = "baseline",
             covariance: str = "random_intercept", alpha: float = 0.05) -> MMRMFit:
    """Fit the repeated-measures model to one parameter's long data.

    Parameters
    ----------
    data : DataFrame
        ``subject_id``, ``arm``, ``visit``, ``dv`` and ``covariate`` columns (as
        :func:`trialkit.derive.change.change_from_baseline`, one parameter).
    arms, control : optional
        Without ``study``: the arms (first = control unless ``control``), arm-indicator model.
    study : Study, optional
        Gives the arms, the control arm and the factors (``model``).
    model : {"arm", "factorial", "main"}
        See :func:`treatment_design`.
    visits : list, optional
        Visit order (default: order of first appearance by ``visit_day`` if present).
    covariance : {"random_intercept", "unstructured"}
    alpha : float

    Returns
    -------
    MMRMFit

    Examples
    --------
    Six subjects, two post-baseline visits; one intercept and baseline slope per visit, one arm
    effect per visit:

    >>> import pandas as pd
    >>> d = pd.DataFrame({"subject_id": list("aabbccddeeff"), "arm": ["c"] * 6 + ["t"] * 6,
    ...                   "visit": ["V1", "V2"] * 6, "baseline": [10., 10, 12, 12, 14, 14, 11, 11, 13, 13, 15, 15],
    ...                   "change": [0., 1, 1, 1, 0, 2, 2, 3, 3, 5, 2, 4]})
    >>> fit = fit_mmrm(d, arms=["c", "t"])
    >>> fit.params.round(3)
    visit[V1]             0.333
    visit[V2]            -1.667
    visit[V1]:baseline    0.000
    visit[V2]:baseline    0.250
    visit[V1]:arm[t]      2.000
    visit[V2]:arm[t]      2.417
    dtype: float64
    >>> fit.n_subjects, fit.n_obs, fit.control, fit.treatments
    (6, 12, 'c', ['arm[t]'])
    >>> round(fit.variance["tau2"], 3), round(fit.variance["sigma2"], 3)  # random intercept, residual
    (0.222, 0.278)
    >>> fit_mmrm(d, arms=["c", "t"], covariance="unstructured").variance["Sigma"].round(3)
           V1     V2
    V1  0.444  0.222
    V2  0.222  0.556
    """
    if covariance not in COVARIANCES:
        raise ValueError(f"covariance: expected one of {COVARIANCES}")
    d = data.dropna(subset=[dv] + ([covariate] if covariate else [])).reset_index(drop=True)
    if study is not None:
        treatments, arm_x = treatment_design(study, model)
        control = study.control_arm
    else:
        arms = list(pd.unique(d["arm"])) if arms is None else list(arms)
        control = arms[0] if control is None else control
        treatments = [f"arm[{a}]" for a in arms if a != control]
        arm_x = {a: {c: int(c == f"arm[{a}]") for c in treatments} for a in arms}
    present = set(d["arm"])
    # drop treatment columns no arm in the data switches on
    treatments = [t for t in treatments if any(arm_x[a][t] for a in present)]
    if visits is None:
        key = d.sort_values("visit_day") if "visit_day" in d else d
        visits = list(pd.unique(key["visit"]))
    visits = [v for v in visits if (d["visit"] == v).any()]
    d = d[d["visit"].isin(visits)].reset_index(drop=True)
    X, names = _build_X(d, visits, treatments, arm_x, covariate)
    keep = np.asarray(X.any(axis=0))  # e.g. an arm with no one left at a visit
    X, names = X[:, keep], [n for n, k in zip(names, keep) if k]
    y = d[dv].to_numpy(dtype=float)
    groups = pd.factorize(d["subject_id"])[0]
    n_sub = int(groups.max() + 1)
    with _single_thread():
        if covariance == "random_intercept":
            beta, cov, ll, var = _fit_random_intercept(y, X, groups)
            df = _nlme_df(X, groups, n_sub)
        else:
            vidx = d["visit"].map({v: i for i, v in enumerate(visits)}).to_numpy(dtype=int)
            beta, cov, ll, var = _fit_unstructured(y, X, groups, vidx, len(visits))
    if covariance != "random_intercept":
        var["Sigma"] = pd.DataFrame(var["Sigma"], index=visits, columns=visits)
        df = np.full(len(names), float(len(y) - X.shape[1]))
    cov_mean = float(d.drop_duplicates("subject_id")[covariate].mean()) if covariate else 0.0
    return MMRMFit(params=pd.Series(beta, index=names), cov=pd.DataFrame(cov, index=names, columns=names),
                   df=pd.Series(df, index=names), visits=visits, treatments=treatments, arm_x=arm_x,
                   control=control, covariate_mean=cov_mean, covariance=covariance, loglik=ll, variance=var,
                   n_obs=len(y), n_subjects=n_sub, alpha=alpha, info={"covariate": covariate})


# ------------------------------------------------------------------------------------------------
# LS-means and contrasts
# ------------------------------------------------------------------------------------------------
def _rows(fit: MMRMFit, W: np.ndarray) -> dict:
    """Estimate, SE, df, t, CI and p of the linear combinations ``W @ params`` (one row of ``W`` each).

    Matrix algebra on the whole weight matrix (one product for the estimates, one for the
    variances), the same numbers as :meth:`MMRMFit.estimate` row by row; df of a row is the smallest
    df of its non-zero weights (all of them for a zero row), as there.
    """
    beta, cov, dfs = fit.params.to_numpy(dtype=float), fit.cov.to_numpy(dtype=float), fit.df.to_numpy(dtype=float)
    W = np.asarray(W, dtype=float).reshape(-1, len(beta))
    est = W @ beta
    se = np.sqrt(np.einsum("ij,jk,ik->i", W, cov, W))
    nz = W != 0
    df = np.where(nz.any(axis=1), np.where(nz, dfs, np.inf).min(axis=1, initial=np.inf), dfs.min())
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, est / np.where(se > 0, se, 1.0), np.nan)
    q = stats.t.ppf(1 - fit.alpha / 2, df)
    return {"estimate": est, "se": se, "df": df, "statistic": t, "ci_low": est - q * se, "ci_high": est + q * se,
            "p_value": 2 * stats.t.sf(np.abs(t), df)}


def _table(fit: MMRMFit, keys: dict, weights: list[dict]) -> pd.DataFrame:
    """One row per weight dict (``{param name: weight}``), with the key columns ``keys``."""
    pos = {n: i for i, n in enumerate(fit.params.index)}
    W = np.zeros((len(weights), len(pos)))
    for r, w in enumerate(weights):
        for n, v in w.items():
            W[r, pos[n]] = v
    return pd.DataFrame({**keys, **_rows(fit, W)})


def _arm_weights(fit: MMRMFit, arm: str, visit: str, *, minus: str | None = None,
                 covariate: bool = True) -> dict:
    w: dict[str, float] = {}
    cv = fit.info.get("covariate")
    names = fit.params.index
    for t in fit.treatments:
        name = f"{_vname(visit)}:{t}"
        coef = fit.arm_x[arm][t] - (fit.arm_x[minus][t] if minus is not None else 0)
        if coef and name in names:
            w[name] = w.get(name, 0) + coef
    if minus is None:
        w[_vname(visit)] = 1.0
        if cv is not None and covariate:
            w[f"{_vname(visit)}:{cv}"] = fit.covariate_mean
    return {k: v for k, v in w.items() if k in names}


def lsmeans(fit: MMRMFit, arms: list | None = None) -> pd.DataFrame:
    """Least-squares means of the outcome per arm and visit, at the mean baseline of the subjects.

    Returns
    -------
    DataFrame
        ``arm``, ``visit``, ``estimate``, ``se``, ``df``, ``statistic``, ``ci_low``, ``ci_high``,
        ``p_value`` (against 0).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"subject_id": list("aabbccdd"), "arm": list("ccccttt") + ["t"], "visit": ["V1", "V2"] * 4,
    ...                   "baseline": [1., 1, 2, 2, 1, 1, 2, 2], "change": [0., 1, 1, 2, 1, 3, 2, 4]})
    >>> lsmeans(fit_mmrm(d, arms=["c", "t"]))[["arm", "visit", "estimate"]].round(3)
      arm visit  estimate
    0   c    V1       0.5
    1   c    V2       1.5
    2   t    V1       1.5
    3   t    V2       3.5
    """
    arms = list(fit.arm_x) if arms is None else arms
    keys = [(a, v) for a in arms for v in fit.visits]
    ws = [_arm_weights(fit, a, v) for a, v in keys]
    return _table(fit, {"arm": [a for a, _ in keys], "visit": [v for _, v in keys]}, ws)


def contrasts(fit: MMRMFit, arms: list | None = None) -> pd.DataFrame:
    """Each arm minus the control arm, at each visit.

    Returns
    -------
    DataFrame
        ``arm``, ``visit``, ``estimate``, ``se``, ``df``, ``statistic``, ``ci_low``, ``ci_high``, ``p_value``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"subject_id": list("aabbccddeeff"), "arm": ["c"] * 6 + ["t"] * 6,
    ...                   "visit": ["V1", "V2"] * 6, "baseline": [10., 10, 12, 12, 14, 14, 11, 11, 13, 13, 15, 15],
    ...                   "change": [0., 1, 1, 1, 0, 2, 2, 3, 3, 5, 2, 4]})
    >>> fit = fit_mmrm(d, arms=["c", "t"], covariance="unstructured")
    >>> contrasts(fit)[["arm", "visit", "estimate", "se", "df", "ci_low", "ci_high", "p_value"]].round(3)
      arm visit  estimate     se   df  ci_low  ci_high  p_value
    0   t    V1     2.000  0.569  6.0   0.607    3.393    0.013
    1   t    V2     2.417  0.636  6.0   0.859    3.974    0.009
    """
    arms = [a for a in (list(fit.arm_x) if arms is None else arms) if a != fit.control]
    keys, ws = [], []
    for a in arms:
        for v in fit.visits:
            w = _arm_weights(fit, a, v, minus=fit.control)
            if w:
                keys.append((a, v))
                ws.append(w)
    if not ws:
        return pd.DataFrame()
    return _table(fit, {"arm": [a for a, _ in keys], "visit": [v for _, v in keys]}, ws)


def term_effects(fit: MMRMFit, visit: str) -> pd.DataFrame:
    """The treatment-column coefficients at one visit (factorial terms), with CIs.

    Returns
    -------
    DataFrame
        ``term``, ``visit``, ``estimate``, ``se``, ``df``, ``statistic``, ``ci_low``, ``ci_high``, ``p_value``.

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> from trialkit.derive.change import change_from_baseline
    >>> trial = example()
    >>> fit = fit_mmrm(change_from_baseline(trial, ["ALB"]), study=trial.study, model="factorial")
    >>> term_effects(fit, "W24")[["term", "visit", "estimate", "ci_low", "ci_high", "p_value"]].round(2)
         term visit  estimate  ci_low  ci_high  p_value
    0     msc   W24      0.50   -1.07     2.08     0.53
    1      pe   W24     -0.69   -2.42     1.05     0.44
    2  msc:pe   W24      1.12   -1.22     3.46     0.35
    """
    terms = [t for t in fit.treatments if f"{_vname(visit)}:{t}" in fit.params.index]
    if not terms:
        return pd.DataFrame()
    return _table(fit, {"term": terms, "visit": [visit] * len(terms)},
                  [{f"{_vname(visit)}:{t}": 1.0} for t in terms])


__all__.append("term_effects")


def _display(df: pd.DataFrame, log: bool) -> pd.DataFrame:
    out = df.copy()
    f = np.exp if log else (lambda x: x)
    out["display_estimate"] = f(out["estimate"])
    out["display_ci_low"] = f(out["ci_low"])
    out["display_ci_high"] = f(out["ci_high"])
    return out


def _not_fitted(parameter: str, d: pd.DataFrame, note: str) -> dict:
    """The ``fits`` row of a parameter no model was fitted to, saying why."""
    return {"parameter": parameter, "covariance": None, "n_subjects": d["subject_id"].nunique(), "n_obs": len(d),
            "loglik": np.nan, "converged": False, "note": note}


def analyze_parameters(long: pd.DataFrame, study: Study, parameters: list | None = None, *, model: str = "arm",
                       covariance: str = "random_intercept", population: str = "all",
                       alpha: float = 0.05) -> dict[str, pd.DataFrame]:
    """Fit :func:`fit_mmrm` to each parameter of a change-from-baseline dataset.

    Parameters
    ----------
    long : DataFrame
        From :func:`trialkit.derive.change.change_from_baseline` (``scale`` says log or identity).
    study : Study
    parameters : list, optional
        Default: every parameter of ``long``, in order.
    population : {"all", "survivors"}
        ``"survivors"`` fits only subjects alive and transplant-free at the horizon (``survivor``
        column): the contrasts then estimate the mean change *among survivors* (a partly
        conditional model, Kurland et al. 2009). ``"all"`` uses every available value, so the
        model implicitly imputes values after death under missing at random.

    Returns
    -------
    dict of DataFrame
        ``"lsmeans"`` (parameter, scale, arm, visit, visit_day, estimate ... p_value, display_*),
        ``"contrasts"`` (the same for arm − control; on the log scale ``display_*`` are ratios of
        geometric means), ``"terms"`` (factorial term coefficients per visit, when ``model`` is not
        ``"arm"``) and ``"fits"`` (parameter, n_subjects, n_obs, loglik, converged). Parameters with
        too little data (fewer than two arms, or no post-baseline value) are listed in ``fits`` with
        ``note``.

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> from trialkit.derive.change import change_from_baseline
    >>> trial = example()
    >>> res = analyze_parameters(change_from_baseline(trial, ["ALB", "TBIL"], log=["TBIL"]), trial.study)
    >>> res["fits"][["parameter", "covariance", "n_subjects", "n_obs", "converged"]]
      parameter        covariance  n_subjects  n_obs  converged
    0       ALB  random_intercept         119    748       True
    1      TBIL  random_intercept         119    748       True
    >>> c = res["contrasts"]  # TBIL is on the log scale: display_* are ratios of geometric means
    >>> c.loc[c["visit"] == "W24", ["parameter", "arm", "display_estimate", "display_ci_low",
    ...                             "display_ci_high"]].round(2)
       parameter     arm  display_estimate  display_ci_low  display_ci_high
    7        ALB     msc              0.50           -1.07             2.08
    15       ALB      pe             -0.69           -2.42             1.05
    23       ALB  pe_msc              0.94           -0.72             2.59
    31      TBIL     msc              0.89            0.75             1.07
    39      TBIL      pe              1.03            0.85             1.25
    47      TBIL  pe_msc              0.86            0.72             1.03
    """
    if population not in ("all", "survivors"):
        raise ValueError("population: expected 'all' or 'survivors'")
    # rows are selected per parameter: no copy of the whole table beside it
    alive = long["survivor"].astype(bool).to_numpy() if population == "survivors" else np.ones(len(long), bool)
    if parameters is None:
        parameters = list(pd.unique(long.loc[alive, "parameter"]))
    ls, ct, tm, fits = [], [], [], []
    vday = {v.id: v.day for v in study.visits}
    for p in parameters:
        d = long[(long["parameter"] == p).to_numpy() & alive]
        log = bool((d["scale"] == "log").any()) if len(d) else False
        if d["arm"].nunique() < 2 or d["subject_id"].nunique() < 5:
            fits.append(_not_fitted(p, d, "too little data"))
            continue
        vis = [v for v in study.visit_ids if v in set(d["visit"])]
        note, fit, error = "", None, None
        try:
            fit = fit_mmrm(d, study=study, model=model, covariance=covariance, alpha=alpha, visits=vis)
            ok = bool(fit.variance.get("converged", True))
        except (np.linalg.LinAlgError, ValueError) as exc:
            ok, error = False, exc
        if not ok and covariance != "random_intercept":
            try:
                fit = fit_mmrm(d, study=study, model=model, covariance="random_intercept", alpha=alpha, visits=vis)
                note = f"{covariance} covariance did not converge: random intercept used"
            except (np.linalg.LinAlgError, ValueError) as exc:
                fit, error = None, exc
        if fit is None:  # no model could be fitted: say so, report nothing for this parameter
            fits.append(_not_fitted(p, d, f"model could not be fitted: {error}"))
            continue
        conv = bool(fit.variance.get("converged", True))
        fits.append({"parameter": p, "covariance": fit.covariance, "n_subjects": fit.n_subjects, "n_obs": fit.n_obs,
                     "loglik": fit.loglik, "converged": conv, "note": note})
        meta = {"parameter": p, "scale": "log" if log else "identity"}
        if model == "arm":
            a = _display(lsmeans(fit), log)
            ls.append(a.assign(**meta, visit_day=a["visit"].map(vday)))
            c = _display(contrasts(fit), log)
            ct.append(c.assign(**meta, visit_day=c["visit"].map(vday)))
        else:
            for v in fit.visits:
                t = _display(term_effects(fit, v), log)
                tm.append(t.assign(**meta, visit_day=vday[v]))
    lead = ["parameter", "scale"]

    def cat(parts, first):
        if not parts:
            return pd.DataFrame()
        df = pd.concat(parts, ignore_index=True)
        return df[[*lead, *first, *[c for c in df.columns if c not in lead + first]]]

    return {"lsmeans": cat(ls, ["arm", "visit", "visit_day"]), "contrasts": cat(ct, ["arm", "visit", "visit_day"]),
            "terms": cat(tm, ["term", "visit", "visit_day"]), "fits": pd.DataFrame(fits)}
