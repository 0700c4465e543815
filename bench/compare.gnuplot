# Plot for bench/compare.py: test throughput and quality per tool.
# usage: gnuplot -e "datafile='compare.dat'; outfile='compare.png'; qname='accuracy'; heading='...'" compare.gnuplot
# compare.dat: tab-separated, header line, columns tool, docs_per_s, quality, macro_f1.

if (!exists("datafile")) datafile = 'compare.dat'
if (!exists("outfile")) outfile = 'compare.png'
if (!exists("qname")) qname = 'quality'
if (!exists("heading")) heading = 'aitag vs peers'

if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size 1300,560 font "sans,10" noenhanced
} else {
    set terminal png size 1300,560 noenhanced
}
set output outfile
set datafile separator "\t"
set key autotitle columnhead
set style data histograms
set style fill solid 0.85 border -1
set grid ytics lc rgb "#dddddd"
set xtics nomirror rotate by -25 left
set ytics nomirror
set border 3

set multiplot layout 1,2 title heading font ",12"

# left: test docs/s, log scale (tools differ by orders of magnitude)
set title "Prediction throughput (test docs/s, higher is better)"
set style histogram clustered gap 1
set boxwidth 0.8 relative
set logscale y
stats datafile using 2 nooutput
set xrange [-0.6 : STATS_records - 0.4]
# whole decades, so at least two labelled tics
set yrange [10**floor(log10(STATS_min / 2)) : 10**ceil(log10(STATS_max * 2))]
set ylabel "docs/s (log scale)"
plot datafile using 2:xtic(1) notitle lc rgb "#3b75af", \
     '' using 0:2:(sprintf("%.0f", $2)) with labels offset 0,0.8 notitle

# right: quality and macro-F1
unset logscale y
set title "Quality on the test set (higher is better)"
set ylabel qname . " / macro-F1"
set yrange [0:1.1]
set ytics 0, 0.1, 1
set key top right horizontal
plot datafile using 3:xtic(1) title qname lc rgb "#3b75af", \
     '' using 4 title "macro-F1" lc rgb "#ef8636", \
     '' using ($0 - 1.0/6):3:(sprintf("%.3f", $3)) with labels offset 0,0.7 font ",8" notitle, \
     '' using ($0 + 1.0/6):4:(sprintf("%.3f", $4)) with labels offset 0,0.7 font ",8" notitle

unset multiplot
