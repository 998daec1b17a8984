#!/usr/bin/perl
# activate.pl SOCKET PROGRAM [ARGS...] - what systemd does for a socket
# unit: bind and listen on a SOCK_SEQPACKET socket at SOCKET, then exec
# PROGRAM with the socket as descriptor 3, LISTEN_FDS=1 and LISTEN_PID
# set to its pid (exec keeps ours).  With FDS=file in the environment,
# descriptor 3 is a plain file instead, to test the refusal; with
# WRONG_PID=1, LISTEN_PID names another process.  READY=FILE: FILE is
# created once the socket listens.
use strict;
use warnings;
use Fcntl;
use POSIX ();
use Socket;

my ($path, @cmd) = @ARGV;
die "usage: activate.pl SOCKET PROGRAM [ARGS...]\n" unless @cmd;
my $fh;
if (($ENV{FDS} // '') eq 'file') {
	open($fh, '<', '/dev/null') or die "open: $!\n";
} else {
	socket($fh, PF_UNIX, SOCK_SEQPACKET, 0) or die "socket: $!\n";
	unlink $path;
	bind($fh, pack_sockaddr_un($path)) or die "bind $path: $!\n";
	listen($fh, 16) or die "listen: $!\n";
}
# Descriptor 3, inherited across exec (perl marks its own close-on-exec).
if (fileno($fh) != 3) {
	defined POSIX::dup2(fileno($fh), 3) or die "dup2: $!\n";
} else {
	fcntl($fh, F_SETFD, 0) or die "fcntl: $!\n";
}
delete $ENV{FDS};
# READY=FILE: create FILE once the socket listens, for the caller.
if (my $ready = delete $ENV{READY}) {
	open(my $r, '>', $ready) or die "$ready: $!\n";
	close($r);
}
$ENV{LISTEN_FDS} = 1;
$ENV{LISTEN_PID} = delete $ENV{WRONG_PID} ? 1 : $$;
exec { $cmd[0] } @cmd or die "exec $cmd[0]: $!\n";
