#!/bin/sh
# Build local/sleeper inside an edge host's engine from the edge host's own files (no registry can be reached here):
# sleep, perl-base and the libraries they need, plus /srv/web.pl, an HTTP responder on 8080 for published-port checks.
# Prints "built" when it built the image; nothing when the image was there.
set -eu
docker image inspect local/sleeper >/dev/null 2>&1 && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/srv"
cat >"$work/srv/web.pl" <<'PERL'
use IO::Socket::INET;
my $s = IO::Socket::INET->new(LocalPort => 8080, Listen => 5, ReuseAddr => 1) or die "listen: $!";
while (my $c = $s->accept) { <$c>; print $c "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n"; close $c; }
PERL
lib=usr/lib/$(uname -m)-linux-gnu
# bin, lib and lib64 are the merged-/usr links; the loader is found through lib64.
tar -c -C / bin lib lib64 usr/lib64 usr/bin/sleep usr/bin/perl "$lib"/ld-linux-*.so.* "$lib"/libc.so.6 \
  "$lib"/libm.so.6 "$lib"/libcrypt.so.1* "$lib"/perl-base -C "$work" srv |
  docker import -c 'CMD ["/usr/bin/sleep", "infinity"]' - local/sleeper >/dev/null
echo built
