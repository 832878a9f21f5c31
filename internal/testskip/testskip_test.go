package testskip

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestSkipOrFail runs itself as a child that calls Skipf, with and without
// the switch, and checks that the child skips without it and fails with it.
func TestSkipOrFail(t *testing.T) {
	if os.Getenv("TESTSKIP_CHILD") == "1" {
		Skipf(t, "needs a %s", "unicorn")
		return
	}
	for _, tc := range []struct {
		env      string
		wantFail bool
		want     string
	}{
		{"", false, "--- SKIP: TestSkipOrFail"},
		{"0", false, "--- SKIP: TestSkipOrFail"},
		{"1", true, "--- FAIL: TestSkipOrFail"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSkipOrFail$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTSKIP_CHILD=1", EnvRequireAll+"="+tc.env)
		out, err := cmd.CombinedOutput()
		if (err != nil) != tc.wantFail {
			t.Errorf("%s=%q: exit error %v, want failure %v\n%s", EnvRequireAll, tc.env, err, tc.wantFail, out)
		}
		if !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "needs a unicorn") {
			t.Errorf("%s=%q: output lacks %q and the reason:\n%s", EnvRequireAll, tc.env, tc.want, out)
		}
	}
}
