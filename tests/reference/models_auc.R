# Reference numbers for trialkit.models.evaluation (auc_ci, delong_test, calibration_slope,
# brier_score) and trialkit.models.decision.net_benefit (tests/test_models.py).
#
#   Rscript tests/reference/models_auc.R      (from the repository root; a second)
#
# Input : tests/reference/models_auc_data.csv — the default scenario simulated with seed 2012
#         (trialkit.simulate(seed=2012)), subjects with a known outcome by the primary horizon:
#         y (death or LT by day 336), baseline MELD and MELD-Na (many ties), and the simulator's
#         true risk (oracle, rounded to 6 decimals).
# Output: tests/reference/models_auc_expected.json
#
# Only base R (stats): DeLong's variance is computed from its definition — the placement values
# psi(x, y) = 1 if x > y, 1/2 if x == y, 0 otherwise averaged over the other class (DeLong,
# DeLong & Clarke-Pearson 1988) — with an explicit pairwise matrix, not the midrank shortcut
# trialkit uses, so the two implementations are independent. The CI is Wald on the AUC scale,
# as pROC::ci.auc(method = "delong"). Calibration: glm(y ~ qlogis(p)) for the slope and
# glm(y ~ offset(qlogis(p))) for the intercept, binomial family (Steyerberg, Clinical Prediction
# Models, 2nd ed., ch. 15), iterated to convergence (epsilon 1e-14; R's default 1e-8 leaves the
# standard errors accurate to ~1e-5 only). Net benefit: TP/n - FP/n * pt / (1 - pt), treating risk >= pt.
d <- read.csv("tests/reference/models_auc_data.csv")

placements <- function(y, s) {
  x <- s[y == 1]; z <- s[y == 0]
  psi <- outer(x, z, function(a, b) (a > b) + 0.5 * (a == b))
  list(auc = mean(psi), v10 = rowMeans(psi), v01 = colMeans(psi))
}
delong <- function(y, s) {
  p <- placements(y, s)
  se <- sqrt(var(p$v10) / length(p$v10) + var(p$v01) / length(p$v01))
  z <- qnorm(0.975)
  list(estimate = p$auc, se = se, ci_low = max(0, p$auc - z * se), ci_high = min(1, p$auc + z * se))
}
delong_paired <- function(y, a, b) {
  pa <- placements(y, a); pb <- placements(y, b)
  s10 <- cov(cbind(pa$v10, pb$v10)); s01 <- cov(cbind(pa$v01, pb$v01))
  S <- s10 / length(pa$v10) + s01 / length(pa$v01)
  se <- sqrt(S[1, 1] + S[2, 2] - 2 * S[1, 2])
  est <- pa$auc - pb$auc
  list(auc_a = pa$auc, auc_b = pb$auc, estimate = est, se = se, z = est / se,
       p_value = 2 * pnorm(-abs(est / se)))
}
lp <- qlogis(pmin(pmax(d$risk, 1e-8), 1 - 1e-8))
slope_fit <- glm(d$y ~ lp, family = binomial, control = glm.control(epsilon = 1e-14, maxit = 100))
int_fit <- glm(d$y ~ 1 + offset(lp), family = binomial, control = glm.control(epsilon = 1e-14, maxit = 100))
nb <- function(y, r, pt) {
  n <- length(y); treat <- r >= pt
  sum(treat & y == 1) / n - sum(treat & y == 0) / n * pt / (1 - pt)
}
thresholds <- c(0.1, 0.2, 0.3, 0.4, 0.5)
num <- function(x) trimws(formatC(x, digits = 15, format = "g"))
vec <- function(x) paste0("[", paste(num(x), collapse = ", "), "]")
obj <- function(l) paste0("{", paste(sprintf('"%s": %s', names(l), sapply(l, num)), collapse = ", "), "}")
cal <- list(intercept = unname(coef(int_fit)[1]), intercept_se = unname(sqrt(vcov(int_fit)[1, 1])),
            slope = unname(coef(slope_fit)[2]), slope_se = unname(sqrt(vcov(slope_fit)[2, 2])))
json <- paste0("{\n",
  sprintf('  "R": "%s",\n', paste(R.version$major, R.version$minor, sep = ".")),
  '  "data": "tests/reference/models_auc_data.csv",\n',
  '  "auc_meld": ', obj(delong(d$y, d$meld)), ",\n",
  '  "auc_risk": ', obj(delong(d$y, d$risk)), ",\n",
  '  "delong_meld_vs_meld_na": ', obj(delong_paired(d$y, d$meld, d$meld_na)), ",\n",
  '  "calibration_risk": ', obj(cal), ",\n",
  '  "brier_risk": ', num(mean((d$risk - d$y)^2)), ",\n",
  '  "thresholds": ', vec(thresholds), ",\n",
  '  "net_benefit_risk": ', vec(sapply(thresholds, function(t) nb(d$y, d$risk, t))), "\n",
  "}\n")
writeLines(json, "tests/reference/models_auc_expected.json", sep = "")
cat(json)
