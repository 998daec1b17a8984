<?php
// shmop.php - what a PHP request does with shmop to read a value another
// process keeps in a System V segment: open the existing segment,
// read from it, close it; in a loop for SECONDS, printing the rate
// (operations per second).  make bench's real-program section
// (bench/real.sh) runs it on the kernel and under ushm-run.
// Opening with "a" is shmget + IPC_STAT + shmat(SHM_RDONLY); dropping the
// last reference to the Shmop object is shmdt (shmop_close is a no-op
// since PHP 8.0, and deprecated).  The segment is created once, before
// the loop, and removed after it.
// argv: KEY SECONDS
if ($argc !== 3) {
	fwrite(STDERR, "usage: php shmop.php KEY SECONDS\n");
	exit(2);
}
$key = intval($argv[1], 0);
$seconds = floatval($argv[2]);
$value = str_repeat("ushm", 16);
$len = strlen($value);

$seg = shmop_open($key, "n", 0600, 4096);
if ($seg === false) {
	fwrite(STDERR, "shmop.php: could not create the segment of key $key\n");
	exit(1);
}
shmop_write($seg, $value, 0);

$ops = 0;
$start = hrtime(true);
$end = $start + (int)($seconds * 1e9);
do {
	$s = shmop_open($key, "a", 0, 0);
	if ($s === false || shmop_read($s, 0, $len) !== $value) {
		fwrite(STDERR, "shmop.php: open or read failed after $ops operations\n");
		shmop_delete($seg);
		exit(1);
	}
	$s = null;
	$ops++;
	$now = hrtime(true);
} while ($now < $end);

shmop_delete($seg);
printf("%.1f\n", $ops / (($now - $start) / 1e9));
