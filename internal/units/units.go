// Package units formats sizes for people, the one way every bootfs command,
// log line, banner and page does: binary units with the i (KiB, MiB, GiB,
// TiB; 1 GiB = 1024 MiB), one decimal. Never MB in one place and MiB in
// another.
package units

import "fmt"

// Bytes formats n: "512 B", "1.5 KiB", "14.0 MiB", "4.0 GiB". Negative
// sizes keep their sign.
func Bytes[T ~int | ~int64 | ~uint64](n T) string {
	if n < 0 {
		return "-" + Bytes(-int64(n))
	}
	v := float64(n)
	if v < 1024 {
		return fmt.Sprintf("%d B", uint64(n))
	}
	for _, unit := range []string{"KiB", "MiB", "GiB", "TiB", "PiB"} {
		v /= 1024
		if v < 1024 || unit == "PiB" {
			// Round as printed, so 1023.96 KiB prints as 1.0 MiB, not 1024.0 KiB.
			if s := fmt.Sprintf("%.1f", v); s != "1024.0" || unit == "PiB" {
				return s + " " + unit
			}
		}
	}
	panic("unreachable")
}

// Rate formats a throughput in bytes per second: "50.0 MiB/s".
func Rate(bytesPerSec float64) string {
	return Bytes(int64(bytesPerSec)) + "/s"
}
