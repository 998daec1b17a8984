# bench/plot.gp - time per message and throughput against message size,
# and round-trip times; gnuplot -e "dir='bench/results'" bench/plot.gp
set terminal pngcairo size 1200,1000 font ",10" noenhanced
set output dir."/bench.png"
set multiplot layout 2,2 title "ushm channels: message size, IPC round trips"
set logscale xy
set grid
set key top left
set xlabel "message size (bytes)"
set ylabel "ns per message (lower is better)"
set title "time per message, producer and consumer on two cores"
f = dir."/tput.dat"
plot f u 1:2 w lp t "ushm_chan", f u 1:4 w lp t "spinning ring", \
     f u 1:6 w lp t "pipe", f u 1:8 w lp t "unix socket", \
     f u 1:10 w lp t "memcpy (limit)"
set ylabel "MB/s (higher is better)"
set title "throughput"
set key bottom right
plot f u 1:3 w lp t "ushm_chan", f u 1:5 w lp t "spinning ring", \
     f u 1:7 w lp t "pipe", f u 1:9 w lp t "unix socket", \
     f u 1:11 w lp t "memcpy (limit)"
unset logscale x
set logscale y
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -30
set xlabel ""
set ylabel "ns per round trip (log)"
set title "round trip of an 8-byte message"
set key top left
r = dir."/rtt.dat"
plot r u 2:xtic(1) t "cross core", r u 3 t "same core", \
     r u 4 t "unpinned"
unset multiplot
