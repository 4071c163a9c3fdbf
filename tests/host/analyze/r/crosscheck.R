# The statistics core against R itself: every row of a table the host test (test_stats_r.cpp) writes --
# the samples of each side and what `xuaccess compare` made of them -- recomputed with R's own
# wilcox.test(conf.int = TRUE) and p.adjust("BH"), and compared.
#
#   Rscript crosscheck.R ROWS.tsv [TOLERANCE]
#
# ROWS.tsv columns: source, name, kind ("ratio": B/A on the logarithms; "difference": B - A; "aa": the
# split-half A/A, p only), a and b (comma-separated samples, time per unit, %.17g), then the project's
# estimate, lo, hi, level (the interval's achieved level), p (the row's p, NA when compare gives none) and
# q (Benjamini-Hochberg over the rows of one source that have a p). Prints the largest difference of each
# figure (|ours - R| / max(1, |R|)) over how many rows; exits 1 when one exceeds TOLERANCE (default 1e-12)
# or when the rows marked at q < 0.05 differ.
args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 1) stop("usage: Rscript crosscheck.R ROWS.tsv [TOLERANCE]")
tol <- if (length(args) >= 2) as.numeric(args[2]) else 1e-12
d <- read.delim(args[1], stringsAsFactors = FALSE, na.strings = "NA",
                colClasses = c(source = "character", name = "character", kind = "character",
                               a = "character", b = "character"))
num <- function(s) as.numeric(strsplit(s, ",", fixed = TRUE)[[1]])
rel <- function(x, r) ifelse(is.na(x) & is.na(r), 0, abs(x - r) / pmax(1, abs(r)))
n <- nrow(d)
r_est <- r_lo <- r_hi <- r_level <- r_p <- rep(NA_real_, n)
tied <- all_same <- rep(FALSE, n)
for (i in seq_len(n)) {
  a <- num(d$a[i]); b <- num(d$b[i])
  tr <- function(v) if (d$kind[i] == "ratio") log(v) else v
  x <- tr(b); y <- tr(a)
  # Each side one value repeated: R stops ("cannot compute confidence interval when all observations are
  # tied"); the project gives the shift exactly (effect.hpp). The p is still R's -- except when every value
  # of both sides is the same, where R's p is NaN (0/0) and the project's 1 (stats.hpp). Counted, not compared.
  tied[i] <- length(unique(x)) == 1 && length(unique(y)) == 1
  t <- suppressWarnings(wilcox.test(x, y, conf.int = d$kind[i] != "aa" && !tied[i]))
  all_same[i] <- length(unique(c(x, y))) == 1
  r_p[i] <- if (all_same[i]) 1 else t$p.value
  if (d$kind[i] == "aa" || tied[i]) next
  back <- function(v) if (d$kind[i] == "ratio") exp(v) else v
  r_est[i] <- back(unname(t$estimate))
  r_lo[i] <- back(t$conf.int[1]); r_hi[i] <- back(t$conf.int[2])
  r_level[i] <- attr(t$conf.int, "conf.level")
}
r_q <- rep(NA_real_, n)
for (s in unique(d$source)) {
  k <- d$source == s & !is.na(d$p)
  r_q[k] <- p.adjust(r_p[k], "BH")
}
iv <- d$kind != "aa" & !tied
has_p <- !is.na(d$p)
worst <- c(estimate = max(rel(d$estimate[iv], r_est[iv])), lo = max(rel(d$lo[iv], r_lo[iv])),
           hi = max(rel(d$hi[iv], r_hi[iv])), level = max(rel(d$level[iv], r_level[iv])),
           p = max(rel(d$p[has_p], r_p[has_p])), q = max(rel(d$q[has_p], r_q[has_p])))
ours_marked <- has_p & d$q < 0.05
r_marked <- has_p & r_q < 0.05
cat(sprintf(paste("R %s, %d rows (%d sources): %d estimates and intervals, %d p and q (%d of them the split-half",
                  "A/A), %d rows of one value a side without an interval, %d with p = 1 for R's NaN\n"),
            paste(R.version$major, R.version$minor, sep = "."), n, length(unique(d$source)), sum(iv), sum(has_p),
            sum(has_p & d$kind == "aa"), sum(tied & d$kind != "aa"), sum(all_same)))
for (f in names(worst)) cat(sprintf("  %-8s largest difference %.3g\n", f, worst[[f]]))
cat(sprintf("  marked at q < 0.05: %d here, %d by R, %d rows disagree\n", sum(ours_marked), sum(r_marked),
            sum(ours_marked != r_marked)))
bad <- names(worst)[!(worst <= tol)]
if (length(bad) || any(ours_marked != r_marked)) {
  for (f in bad) {
    col <- switch(f, estimate = list(d$estimate, r_est), lo = list(d$lo, r_lo), hi = list(d$hi, r_hi),
                  level = list(d$level, r_level), p = list(d$p, r_p), q = list(d$q, r_q))
    e <- rel(col[[1]], col[[2]]); e[is.na(e)] <- 0
    i <- which.max(e)
    cat(sprintf("DISAGREE %s: %s %s: ours %.17g, R %.17g\n", f, d$source[i], d$name[i], col[[1]][i], col[[2]][i]))
  }
  cat(sprintf("FAIL: tolerance %g\n", tol))
  quit(status = 1)
}
cat(sprintf("OK: within %g\n", tol))
