# Reference numbers for the Mayo Clinic PBC trial (tests/test_real_trials.py, ..._against_R).
#
# The 312 randomized subjects of survival::pbcseq (exported for the tests by pbc_export.R as
# tests/data/pbcseq.csv; this script reads that file, so R and the kit see the same numbers).
# Primary endpoint of the converted study (tests/realdata.py, pbc_trial): death, liver transplant
# censoring follow-up, analysed up to the primary horizon of 10 years = 3652.5 days (death after
# the horizon is censored there), D-penicillamine (trt 1) vs placebo (trt 0, the control).
# Published result: no significant effect of D-penicillamine on survival (Dickson et al., N Engl J Med
# 1985; Fleming & Harrington 1991).
#
# Prints: log-rank test (survdiff), Cox model (coxph, Efron ties, converged to 1e-14), Kaplan-Meier
# survival per arm at 5 and 10 years with log(-log) intervals (conf.type = "log-log", the kit's),
# and writes them to tests/reference/pbc_expected.csv (quantity, arm, value).
# Run from the repository root:  Rscript tests/reference/pbc.R > tests/reference/pbc_output.txt
suppressPackageStartupMessages(library(survival))
cat(R.version.string, "\n")
cat("survival", as.character(packageVersion("survival")), "\n\n")
ref <- function(...) file.path("tests", ...)
ctl <- coxph.control(eps = 1e-14, toler.chol = 1e-15, iter.max = 100)

seq <- read.csv(ref("data", "pbcseq.csv"))
d <- seq[!duplicated(seq$id), c("id", "futime", "status", "trt")]
horizon <- 10 * 365.25
d$event <- as.integer(d$status == 2 & d$futime <= horizon)
d$time <- ifelse(d$event == 1, d$futime, pmin(d$futime, horizon))
d$arm <- factor(ifelse(d$trt == 1, "dpca", "placebo"), levels = c("placebo", "dpca"))
cat("subjects per arm:\n"); print(table(d$arm))
cat("deaths within 10 years per arm:\n"); print(tapply(d$event, d$arm, sum))

lr <- survdiff(Surv(time, event) ~ arm, data = d)
print(lr)
lr_p <- pchisq(lr$chisq, df = 1, lower.tail = FALSE)

fit <- coxph(Surv(time, event) ~ arm, data = d, ties = "efron", control = ctl)
print(summary(fit))
s <- summary(fit)

km <- survfit(Surv(time, event) ~ arm, data = d, conf.type = "log-log")
at <- summary(km, times = c(5, 10) * 365.25)
print(at)

out <- rbind(
  data.frame(quantity = "logrank_chisq", arm = "", value = lr$chisq),
  data.frame(quantity = "logrank_p", arm = "", value = lr_p),
  data.frame(quantity = "cox_coef", arm = "dpca", value = unname(coef(fit))),
  data.frame(quantity = "cox_hr", arm = "dpca", value = unname(exp(coef(fit)))),
  data.frame(quantity = "cox_se", arm = "dpca", value = unname(sqrt(diag(vcov(fit))))),
  data.frame(quantity = "cox_hr_ci_low", arm = "dpca", value = s$conf.int[, "lower .95"]),
  data.frame(quantity = "cox_hr_ci_high", arm = "dpca", value = s$conf.int[, "upper .95"]),
  data.frame(quantity = "cox_wald_p", arm = "dpca", value = s$coefficients[, "Pr(>|z|)"]),
  data.frame(quantity = "cox_lr_chisq", arm = "", value = unname(s$logtest["test"])),
  data.frame(quantity = paste0("km_", at$time / 365.25, "y"), arm = sub("arm=", "", at$strata),
             value = at$surv),
  data.frame(quantity = paste0("km_", at$time / 365.25, "y_ci_low"), arm = sub("arm=", "", at$strata),
             value = at$lower),
  data.frame(quantity = paste0("km_", at$time / 365.25, "y_ci_high"), arm = sub("arm=", "", at$strata),
             value = at$upper)
)
out$value <- sprintf("%.15g", out$value)
write.csv(out, file.path("tests", "reference", "pbc_expected.csv"), row.names = FALSE, quote = FALSE)
cat("\n"); print(out, row.names = FALSE)
