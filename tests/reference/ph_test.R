# Reference numbers for trialkit.stats.survival.ph_test (tests/test_stats_survival.py).
#
# The proportional-hazards test as R's survival package computes it today (cox.zph, survival >= 3.0:
# the exact score test of Grambsch & Therneau for a time-by-covariate term g(t) * x, with
# transform = "km" and terms = TRUE, both the defaults), per term and GLOBAL, on
#   - the committed efficacy dataset (tests/reference/efficacy_tte.csv: default scenario, seed 2012):
#     arm as a factor (one 3-df term; and terms = FALSE, one test per arm), and the factorial
#     msc * pe model;
#   - a real trial: the Rossi et al. recidivism data (432 released prisoners, 114 arrests; the
#     copy shipped with lifelines, tests/reference/rossi.csv), arrest on all seven covariates.
# Cox models use Efron ties (R's default) fitted to full convergence, as trialkit.stats.survival.
#
# Output: tests/reference/ph_test_expected.csv (model, terms, term, chisq, df, p) and
#         tests/reference/ph_test_expected.json (R and survival versions).
# Run from the repository root:  Rscript tests/reference/ph_test.R
suppressPackageStartupMessages(library(survival))
ref <- function(...) file.path("tests", "reference", ...)
ctl <- coxph.control(eps = 1e-14, toler.chol = 1e-15, iter.max = 100)

tte <- read.csv(ref("efficacy_tte.csv"))
tte$arm <- factor(tte$arm, levels = c("control", "msc", "pe", "pe_msc"))
rossi <- read.csv(ref("rossi.csv"))

fits <- list(
  efficacy_arm = coxph(Surv(time, event) ~ arm, data = tte, ties = "efron", control = ctl),
  efficacy_factorial = coxph(Surv(time, event) ~ msc * pe, data = tte, ties = "efron", control = ctl),
  rossi = coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, data = rossi,
                ties = "efron", control = ctl)
)
out <- list()
for (nm in names(fits)) {
  for (terms in c(TRUE, FALSE)) {
    z <- cox.zph(fits[[nm]], transform = "km", terms = terms)
    print(z)
    tb <- z$table
    out[[length(out) + 1]] <- data.frame(model = nm, terms = terms, term = rownames(tb),
                                         chisq = tb[, "chisq"], df = tb[, "df"], p = tb[, "p"])
  }
}
res <- do.call(rbind, out)
write.csv(res, ref("ph_test_expected.csv"), row.names = FALSE)
writeLines(sprintf('{"R": "%s", "survival": "%s", "call": "cox.zph(coxph(..., ties = \\"efron\\"), transform = \\"km\\", terms = TRUE/FALSE)"}',
                   R.version.string, as.character(packageVersion("survival"))),
           ref("ph_test_expected.json"))
cat(sprintf("%s; survival %s\n", R.version.string, as.character(packageVersion("survival"))))
for (nm in names(fits)) print(coef(fits[[nm]]), digits = 15)
