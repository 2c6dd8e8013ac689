# Reference values for trialkit.tables.baseline.smd_categorical / smd_continuous
# (tests/test_tables.py::test_smd_against_R).
#
# R tableone::ExtractSmd (tableone 0.13.2, R/modules-smd.R: StdDiffMulti, StdDiff) is not
# installed on the machine that produced these numbers, so its algorithm is restated here with
# the same base-R and MASS calls:
#   categorical: table(group, variable) over ALL levels of the variable, proportions per group,
#     first level dropped, S = mean of the two multinomial covariances diag(p) - p p',
#     squared SMD = d' MASS::ginv(S) d (S all zero: 0 when d = 0, else NaN);
#   continuous: |mean1 - mean0| / sqrt((var0 + var1) / 2), var with denominator n - 1.
# Each case has a third arm ("other") so that a level can be absent from the two compared arms
# while present in the variable, as in a four-arm Table 1.
# Run: Rscript tests/reference/smd.R > tests/reference/smd_expected.txt
suppressPackageStartupMessages(library(MASS))
cat("#", R.version.string, "; MASS", as.character(packageVersion("MASS")), "\n")

expand <- function(counts, levels) rep(levels, times = counts)

multi_smd <- function(control, arm, other, levels) {
  variable <- c(expand(control, levels), expand(arm, levels), expand(other, levels))
  group <- rep(c("control", "arm", "other"), times = c(sum(control), sum(arm), sum(other)))
  tab <- table(factor(group, levels = c("control", "arm", "other")), variable)
  p <- prop.table(tab[c("control", "arm"), , drop = FALSE], margin = 1)
  if (ncol(p) > 1) p <- p[, -1, drop = FALSE]
  cv <- function(q) { m <- -outer(q, q); diag(m) <- q * (1 - q); m }
  S <- (cv(p[1, ]) + cv(p[2, ])) / 2
  d <- matrix(p[2, ] - p[1, ], ncol = 1)
  if (all(S == 0)) return(if (all(d == 0)) 0 else NaN)
  sqrt(drop(t(d) %*% MASS::ginv(S) %*% d))
}

lv4 <- c("0", "1", "2", "3")
cases <- list(
  binary            = list(c(3, 27), c(5, 25), c(2, 28), c("F", "M")),
  # the simulated trial's baseline fatigue (notebook 01): level 0 only in a third arm
  fatigue_msc       = list(c(0, 2, 6, 22), c(0, 3, 11, 16), c(1, 1, 12, 16), lv4),
  fatigue_pe        = list(c(0, 2, 6, 22), c(0, 2, 14, 14), c(1, 1, 12, 16), lv4),
  fatigue_pe_msc    = list(c(0, 2, 6, 22), c(1, 1, 12, 16), c(0, 3, 11, 16), lv4),
  absent_first      = list(c(0, 5, 3, 2), c(0, 2, 4, 4), c(3, 1, 1, 1), lv4),
  absent_middle     = list(c(5, 0, 3, 2), c(2, 0, 4, 4), c(1, 3, 1, 1), lv4),
  absent_in_one_arm = list(c(3, 2, 0), c(1, 2, 3), c(1, 1, 1), c("a", "b", "c")),
  identical         = list(c(2, 3, 5), c(4, 6, 10), c(1, 0, 0), c("a", "b", "c")),
  same_constant     = list(c(0, 4, 0), c(0, 7, 0), c(1, 0, 1), c("a", "b", "c")),
  five_levels       = list(c(4, 7, 9, 6, 4), c(8, 5, 6, 9, 2), c(1, 1, 1, 1, 1), c("a", "b", "c", "d", "e"))
)
cat("case,kind,smd\n")
for (nm in names(cases)) {
  x <- cases[[nm]]
  cat(sprintf("%s,categorical,%.15g\n", nm, multi_smd(x[[1]], x[[2]], x[[3]], x[[4]])))
}
cont0 <- c(40.2, 51.7, 38.9, 47.3, 55.0, 44.1)
cont1 <- c(45.6, 49.9, 60.3, 52.8, 41.7)
cat(sprintf("continuous,continuous,%.15g\n", abs(mean(cont1) - mean(cont0)) / sqrt((var(cont0) + var(cont1)) / 2)))
