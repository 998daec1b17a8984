# Perl's IPC::SysV and IPC::SharedMem, as a Perl program would use them:
# create, write, read, stat, attach, detach, remove.
use IPC::SysV qw(IPC_PRIVATE IPC_CREAT S_IRUSR S_IWUSR IPC_RMID);
use IPC::SharedMem;
my $shm = IPC::SharedMem->new(IPC_PRIVATE, 8, S_IRUSR|S_IWUSR|IPC_CREAT) or die "new: $!";
$shm->write(pack("S", 4711), 2, 2) or die "write: $!";
my $data = $shm->read(2, 2);
my $ds = $shm->stat or die "stat: $!";
printf "read %d segsz %d nattch %d\n", unpack("S", $data), $ds->segsz, $ds->nattch;
$shm->attach or die "attach $!"; printf "attached nattch %d\n", $shm->stat->nattch; $shm->detach;
$shm->remove or die "remove: $!";
print "perl done\n";
