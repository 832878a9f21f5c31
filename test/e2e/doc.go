// Package e2e holds the rack's end-to-end tests: real regions (in-process,
// on a real PostgreSQL) serving a dev mirror's images, the real bootfs
// binary mounting them with FUSE, and unmodified tftpd-hpa, tftp-hpa,
// nginx, dnsmasq and QEMU reading through the mount, up to a guest that
// PXE-boots from it. The package has no code outside its tests.
//
// Run them as root (FUSE mounts, tftpd-hpa, network namespaces):
//
//	go test ./test/e2e/
//
// BOOTFS_BENCH=1 also runs the rack benchmarks (scripts/bench-rack.sh).
package e2e
