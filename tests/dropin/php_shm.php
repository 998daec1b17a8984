<?php
// php_shm.php - PHP's shmop and sysvshm extensions (loaded by PHP with
// RTLD_DEEPBIND) on System V shared memory: the same lines on the kernel
// and under ushm-run.  argv: KEY [keep]
$key = intval($argv[1], 0);
$keep = ($argv[2] ?? '') === 'keep';

// shmop: create, write, read, size, delete.
$sh = shmop_open($key, "n", 0600, 100);
echo "shmop_open n: ", $sh ? "ok" : "failed", "\n";
echo "shmop_write: ", shmop_write($sh, "hello from php", 0), "\n";
echo "shmop_read: ", shmop_read($sh, 0, 14), "\n";
echo "shmop_size: ", shmop_size($sh), "\n";
$again = @shmop_open($key, "n", 0600, 100);
echo "shmop_open n again: ", $again ? "ok" : "failed", "\n";
$ro = shmop_open($key, "a", 0, 0);
echo "shmop_open a: ", $ro ? "ok" : "failed", "\n";
echo "read through a: ", shmop_read($ro, 0, 5), "\n";
if (!$keep) {
	echo "shmop_delete: ", shmop_delete($sh) ? "ok" : "failed", "\n";
}

// sysvshm: variables in a segment.
$s = shm_attach($key + 1, 10000, 0600);
echo "shm_attach: ", $s ? "ok" : "failed", "\n";
echo "shm_put_var: ", shm_put_var($s, 1, ["a" => 1, "b" => [2, 3]]) ? "ok" : "failed", "\n";
echo "shm_has_var 1: ", shm_has_var($s, 1) ? "yes" : "no", "\n";
echo "shm_has_var 2: ", shm_has_var($s, 2) ? "yes" : "no", "\n";
echo "shm_get_var: ", json_encode(shm_get_var($s, 1)), "\n";
echo "shm_remove_var: ", shm_remove_var($s, 1) ? "ok" : "failed", "\n";
echo "shm_has_var 1 after: ", shm_has_var($s, 1) ? "yes" : "no", "\n";
if (!$keep) {
	echo "shm_remove: ", shm_remove($s) ? "ok" : "failed", "\n";
}
echo "shm_detach: ", shm_detach($s) ? "ok" : "failed", "\n";
