# Reference numbers for the efficacy analyses (tests/test_stats_*.py compare trialkit to these).
#
#   Rscript tests/reference/efficacy.R        (from the repository root; ~1 min)
#
# Reads the committed analysis datasets written by tests/reference/efficacy_data.py (the default
# scenario simulated with seed 2012) and writes tests/reference/efficacy_r.csv, one number per row:
# block, name, value. Run with R 4.2.2, survival 3.5.3, nlme 3.1.162 (Debian bookworm r-cran-*).
#
# Option choices that make R compute the same quantity as trialkit:
# - survfit conf.type = "log-log" (lifelines' exponential Greenwood interval; R's default is "log").
# - coxph ties = "efron" (R's default, lifelines' only method).
# - cox.zph: survival >= 3.0 computes an exact score test, which trialkit.stats.ph_test computes by
#   default (checked in full, df and p included, by tests/reference/ph_test.R). The earlier
#   Grambsch-Therneau approximation (ph_test(method="approximate"), lifelines) is reproduced below
#   from residuals(fit, "schoenfeld") with the left-continuous KM time transform of survival < 3.0;
#   the current cox.zph chi-squares are written too (block "zph_new").
# - nlme::gls with an unstructured covariance: gls() optimizes with nlminb's default relative
#   tolerance (1e-10) and finite differences, which leaves coefficients accurate to ~1e-5. The same
#   fit is repeated with a tighter optimizer (nlminb rel.tol 1e-13, then BFGS polishing with
#   reltol 1e-16) by giving gls() a local nlminb; the model and the likelihood are nlme's own.

suppressPackageStartupMessages({library(survival); library(nlme)})
ref <- function(...) file.path("tests", "reference", ...)
out <- list()
put <- function(block, name, value) {
  out[[length(out) + 1]] <<- data.frame(block = block, name = name, value = as.numeric(value))
}

tte <- read.csv(ref("efficacy_tte.csv"))
arms <- c("control", "msc", "pe", "pe_msc")
tte$arm <- factor(tte$arm, levels = arms)

# --- Kaplan-Meier --------------------------------------------------------------------------------
km <- survfit(Surv(time, event) ~ arm, data = tte, conf.type = "log-log")
s <- summary(km, times = c(28, 84, 168, 336), extend = TRUE)
for (i in seq_along(s$time)) {
  a <- sub("arm=", "", as.character(s$strata[i]))
  key <- paste0(a, "@", s$time[i])
  put("km", paste0(key, ":surv"), s$surv[i])
  put("km", paste0(key, ":lower"), s$lower[i])
  put("km", paste0(key, ":upper"), s$upper[i])
  put("km", paste0(key, ":n.risk"), s$n.risk[i])
}

# --- log-rank ------------------------------------------------------------------------------------
put("logrank", "global", survdiff(Surv(time, event) ~ arm, data = tte)$chisq)
for (a in arms[-1]) {
  d <- droplevels(tte[tte$arm %in% c("control", a), ])
  put("logrank", a, survdiff(Surv(time, event) ~ arm, data = d)$chisq)
}

# --- Cox models (Efron) --------------------------------------------------------------------------
cox_put <- function(block, fit) {
  sm <- summary(fit)$coefficients
  for (t in rownames(sm)) {
    put(block, paste0(t, ":coef"), sm[t, "coef"])
    put(block, paste0(t, ":se"), sm[t, "se(coef)"])
    put(block, paste0(t, ":z"), sm[t, "z"])
  }
  put(block, "loglik", fit$loglik[2])
  put(block, "lrt", 2 * diff(fit$loglik))
}
ctl <- coxph.control(eps = 1e-14, toler.chol = 1e-15, iter.max = 100)
fit_arm <- coxph(Surv(time, event) ~ arm, data = tte, ties = "efron", control = ctl)
cox_put("cox_arm", fit_arm)
fit_fac <- coxph(Surv(time, event) ~ msc * pe, data = tte, ties = "efron", control = ctl)
cox_put("cox_factorial", fit_fac)
fit_main <- coxph(Surv(time, event) ~ msc + pe, data = tte, ties = "efron", control = ctl)
cox_put("cox_main", fit_main)

# --- PH test: Grambsch-Therneau approximation (old cox.zph), km transform -----------------------
zph_old <- function(fit, d) {
  r <- residuals(fit, type = "schoenfeld")
  if (is.null(dim(r))) r <- matrix(r, ncol = 1, dimnames = list(names(r), names(coef(fit))))
  et <- as.numeric(rownames(r))
  k <- survfit(Surv(time, event) ~ 1, data = d)
  s_left <- sapply(et, function(t) { i <- which(k$time < t); if (length(i)) k$surv[max(i)] else 1 })
  g <- 1 - s_left
  gc <- g - mean(g)
  V <- fit$var
  nd <- sum(d$event)
  U <- colSums(gc * r)
  VU <- V %*% U
  per <- nd * VU^2 / (diag(V) * sum(gc^2))
  list(per = setNames(as.numeric(per), colnames(r)), global = as.numeric(nd * t(U) %*% V %*% U / sum(gc^2)))
}
for (nm in c("cox_arm", "cox_factorial")) {
  f <- if (nm == "cox_arm") fit_arm else fit_fac
  z <- zph_old(f, tte)
  for (t in names(z$per)) put(paste0("zph_", nm), t, z$per[[t]])
  put(paste0("zph_", nm), "GLOBAL", z$global)
  zn <- cox.zph(f, transform = "km")$table
  for (t in rownames(zn)) put(paste0("zph_new_", nm), t, zn[t, "chisq"])
}

# --- RMST to day 336 ------------------------------------------------------------------------------
tab <- summary(survfit(Surv(time, event) ~ arm, data = tte), rmean = 336)$table
for (a in arms) {
  put("rmst", paste0(a, ":rmean"), tab[paste0("arm=", a), "rmean"])
  put("rmst", paste0(a, ":se"), tab[paste0("arm=", a), "se(rmean)"])
}

# --- Aalen-Johansen: death with LT competing -------------------------------------------------------
# survfit's multi-state std.err (infinitesimal jackknife) and its default log-scale 95% CI.
tte$state <- factor(tte$status, levels = 0:2, labels = c("censor", "death", "lt"))
aj <- survfit(Surv(time, state) ~ arm, data = tte)
sa <- summary(aj, times = c(28, 84, 168, 336), extend = TRUE)
stopifnot(aj$conf.type == "log")
for (i in seq_along(sa$time)) {
  a <- sub("arm=", "", as.character(sa$strata[i]))
  for (st in c("death", "lt")) {
    j <- which(sa$states == st)
    key <- paste0(a, "@", sa$time[i], if (st == "lt") ":lt" else "")
    put("aj", key, sa$pstate[i, j])
    put("aj", paste0(key, ":std.err"), sa$std.err[i, j])
    put("aj", paste0(key, ":lower"), sa$lower[i, j])
    put("aj", paste0(key, ":upper"), sa$upper[i, j])
  }
}

# --- Subgroup: MSC effect by baseline MELD above/below median, adjusted for PE --------------------
m <- median(tte$meld_bl)
tte$meld_hi <- as.integer(tte$meld_bl > m)
fi <- coxph(Surv(time, event) ~ msc + pe + meld_hi + msc:meld_hi, data = tte, ties = "efron", control = ctl)
put("subgroup_meld", "interaction_z", summary(fi)$coefficients["msc:meld_hi", "z"])
for (lv in 0:1) {
  f <- coxph(Surv(time, event) ~ msc + pe, data = tte[tte$meld_hi == lv, ], ties = "efron", control = ctl)
  put("subgroup_meld", paste0("level", lv, ":coef"), coef(f)[["msc"]])
  put("subgroup_meld", paste0("level", lv, ":se"), sqrt(f$var[1, 1]))
}

# --- Repeated measures ----------------------------------------------------------------------------
labs <- read.csv(ref("efficacy_labs.csv"))
visits <- c("D3", "D7", "D14", "D21", "D28", "W8", "W12", "W24")
tight <- new.env(parent = asNamespace("nlme"))
tight$nlminb <- function(start, objective, gradient = NULL, hessian = NULL, ..., scale = 1, control = list(),
                         lower = -Inf, upper = Inf) {
  r <- stats::nlminb(start, objective, gradient, hessian, ..., scale = scale,
                     control = modifyList(control, list(rel.tol = 1e-13, eval.max = 50000, iter.max = 10000)),
                     lower = lower, upper = upper)
  for (k in 1:5) {
    o <- optim(r$par, objective, method = "BFGS",
               control = list(reltol = 1e-16, maxit = 5000, ndeps = rep(1e-6, length(start))))
    if (o$value < r$objective) { r$par <- o$par; r$objective <- o$value } else break
  }
  r
}
gls_tight <- nlme::gls
environment(gls_tight) <- tight

lsm_put <- function(block, beta, V, d, arms) {
  bmean <- mean(d$baseline[!duplicated(d$subject_id)])
  for (v in visits) for (a in arms) {
    L <- setNames(rep(0, length(beta)), names(beta))
    L[paste0("visit", v)] <- 1
    L[paste0("visit", v, ":baseline")] <- bmean
    if (a != "control") L[paste0("visit", v, ":arm", a)] <- 1
    put(block, paste0("lsmean:", a, "@", v), sum(L * beta))
    put(block, paste0("lsmean_se:", a, "@", v), sqrt(drop(t(L) %*% V %*% L)))
  }
}

for (p in c("TBIL", "ALB")) {
  d <- labs[labs$parameter == p, ]
  d$visit <- factor(d$visit, levels = visits)
  d$arm <- factor(d$arm, levels = arms)
  d <- d[order(d$subject_id, d$visit), ]
  fm <- change ~ 0 + visit + visit:baseline + visit:arm
  ri <- lme(fm, random = ~ 1 | subject_id, data = d, method = "REML",
            control = lmeControl(maxIter = 500, msMaxIter = 500, tolerance = 1e-12, msTol = 1e-14, niterEM = 100))
  tt <- summary(ri)$tTable
  blk <- paste0("lme_", p)
  for (t in rownames(tt)) {
    put(blk, paste0(t, ":coef"), tt[t, "Value"])
    put(blk, paste0(t, ":se"), tt[t, "Std.Error"])
    put(blk, paste0(t, ":df"), tt[t, "DF"])
    put(blk, paste0(t, ":t"), tt[t, "t-value"])
    put(blk, paste0(t, ":p"), tt[t, "p-value"])
  }
  put(blk, "loglik", logLik(ri))
  put(blk, "tau2", as.numeric(VarCorr(ri)[1, "Variance"]))
  put(blk, "sigma2", ri$sigma^2)
  lsm_put(blk, fixef(ri), vcov(ri), d, arms)
  cs <- gls(fm, correlation = corCompSymm(form = ~ 1 | subject_id), data = d, method = "REML",
            control = glsControl(tolerance = 1e-12, msTol = 1e-14, maxIter = 500, msMaxIter = 500))
  put(paste0("glsCS_", p), "max_rel_diff_to_lme", max(abs(coef(cs) - fixef(ri)) / abs(fixef(ri))))

  un <- gls_tight(fm, correlation = corSymm(form = ~ as.integer(visit) | subject_id),
                  weights = varIdent(form = ~ 1 | visit), data = d, method = "REML")
  tt <- summary(un)$tTable
  blk <- paste0("glsUN_", p)
  for (t in rownames(tt)) {
    put(blk, paste0(t, ":coef"), tt[t, "Value"])
    put(blk, paste0(t, ":se"), tt[t, "Std.Error"])
    put(blk, paste0(t, ":t"), tt[t, "t-value"])
    put(blk, paste0(t, ":p"), tt[t, "p-value"])
  }
  put(blk, "loglik", logLik(un))
  put(blk, "df", un$dims$N - un$dims$p)
  lsm_put(blk, coef(un), vcov(un), d, arms)
}

# factorial random-intercept model for TBIL: visit x (msc, pe, msc:pe)
d <- labs[labs$parameter == "TBIL", ]
d$visit <- factor(d$visit, levels = visits)
d$mscpe <- d$msc * d$pe
fl <- lme(change ~ 0 + visit + visit:baseline + visit:msc + visit:pe + visit:mscpe, random = ~ 1 | subject_id,
          data = d, method = "REML",
          control = lmeControl(maxIter = 500, msMaxIter = 500, tolerance = 1e-12, msTol = 1e-14, niterEM = 100))
tt <- summary(fl)$tTable
for (t in grep("W24", rownames(tt), value = TRUE)) {
  put("lme_factorial_TBIL", paste0(t, ":coef"), tt[t, "Value"])
  put("lme_factorial_TBIL", paste0(t, ":se"), tt[t, "Std.Error"])
}

# --- Worst-rank composite (TBIL, lower is better) and a symptom's ordinal test ----------------------
wr <- read.csv(ref("efficacy_worst_rank.csv"))
key <- ifelse(wr$event == 1, wr$event_day - 1e6, -wr$change)  # deaths first (earlier worse)
for (a in arms[-1]) {
  sel <- wr$arm %in% c("control", a)
  rk <- rank(key[sel])
  w <- wilcox.test(rk[wr$arm[sel] == a], rk[wr$arm[sel] == "control"], exact = FALSE, correct = FALSE)
  put("worst_rank_TBIL", paste0(a, ":W"), w$statistic)
  put("worst_rank_TBIL", paste0(a, ":p"), w$p.value)
}
sy <- read.csv(ref("efficacy_symptoms.csv"))
sy <- sy[sy$symptom == "fatigue", ]
sy$category <- ifelse(sy$event == 1, 4, sy$score)
sy <- sy[!is.na(sy$category), ]
for (a in arms[-1]) {
  w <- wilcox.test(sy$category[sy$arm == "control"], sy$category[sy$arm == a], exact = FALSE, correct = FALSE)
  put("ordinal_fatigue", paste0(a, ":W"), w$statistic)
  put("ordinal_fatigue", paste0(a, ":p"), w$p.value)
}

# --- Holm ------------------------------------------------------------------------------------------
pv <- c(0.012, 0.049, 0.003, 0.2, 0.04, NA, 0.0101)
for (i in seq_along(pv)) put("holm", as.character(i), p.adjust(pv, "holm")[i])

res <- do.call(rbind, out)
write.csv(res, ref("efficacy_r.csv"), row.names = FALSE, quote = TRUE)
cat(sprintf("wrote %d numbers to %s (R %s, survival %s, nlme %s)\n", nrow(res), ref("efficacy_r.csv"),
            getRversion(), packageVersion("survival"), packageVersion("nlme")))
