# Reference numbers for trialkit.stats.competing.aalen_johansen (tests/test_stats_competing.py).
#
# Aalen-Johansen cumulative incidence of hcc, death and transplant (competing causes) by group,
# from R's survival::survfit with a multi-state Surv(time, factor(status)) response. survfit
# reports the infinitesimal-jackknife standard error for multi-state data and a log-transformed
# confidence interval (conf.type = "log", the default) with the upper limit capped at 1.
#
# Input : tests/reference/competing_risks_data.csv (group, time, status; committed fixture)
# Output: tests/reference/competing_risks_expected.csv (group, state, time, n_risk, estimate, se,
#         ci_low, ci_high) and tests/reference/competing_risks_expected.json (versions).
# Run from the repository root:  Rscript tests/reference/competing_risks.R
library(survival)

d <- read.csv("tests/reference/competing_risks_data.csv", stringsAsFactors = FALSE)
d$st <- factor(d$status, levels = c("censored", "hcc", "death", "transplant"))
fit <- survfit(Surv(time, st) ~ group, data = d, conf.int = 0.95)

strata <- rep(sub("^group=", "", names(fit$strata)), fit$strata)
states <- fit$states                    # "(s0)" first, then the causes
out <- list()
for (j in seq_along(states)) {
  if (states[j] == "(s0)") next
  out[[length(out) + 1]] <- data.frame(
    group = strata, state = states[j], time = fit$time, n_risk = fit$n.risk[, 1],
    estimate = fit$pstate[, j], se = fit$std.err[, j],
    ci_low = fit$lower[, j], ci_high = fit$upper[, j])
}
res <- do.call(rbind, out)
write.csv(res, "tests/reference/competing_risks_expected.csv", row.names = FALSE, na = "")
writeLines(sprintf('{"R": "%s", "survival": "%s", "call": "survfit(Surv(time, factor(status)) ~ group)", "conf.type": "%s"}',
                   R.version.string, as.character(packageVersion("survival")), fit$conf.type),
           "tests/reference/competing_risks_expected.json")
print(summary(fit, times = c(120, 240, 336)))
