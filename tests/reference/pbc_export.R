# Export the Mayo Clinic PBC trial (R package survival, data set pbcseq) as a small CSV test fixture:
# tests/data/pbcseq.csv, one row per subject and lab visit, the 312 randomized subjects only (pbcseq
# holds exactly those; pbc's 106 further non-randomized cases are not used). Run from the repository
# root: Rscript tests/reference/pbc_export.R. The test suite reads the CSV and never needs R.
library(survival)
cat(R.version.string, "\n")
cat("survival", as.character(packageVersion("survival")), "\n")
d <- survival::pbcseq
# pbcseq codes trt 1 = D-penicillamine, 0 = placebo (its help page says 1/2, as pbc does; matched
# against pbc by id: pbc trt 1 = pbcseq 1, pbc trt 2 = pbcseq 0).
stopifnot(length(unique(d$id)) == 312, all(d$trt %in% 0:1))
d <- d[order(d$id, d$day), ]
d$sex <- as.character(d$sex)
d$age <- round(d$age, 3)  # years; three decimals keep the file small
names(d) <- gsub(".", "_", names(d), fixed = TRUE)
write.csv(d, "tests/data/pbcseq.csv", row.names = FALSE, na = "", quote = FALSE)
cat("wrote tests/data/pbcseq.csv:", nrow(d), "rows,", length(unique(d$id)), "subjects\n")
