package testskip

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestSkipOrFail runs a child test twice, with and without the switch, and
// checks that it skips in the first case and fails in the second.
func TestSkipOrFail(t *testing.T) {
	if os.Getenv("TESTSKIP_CHILD") == "1" {
		return
	}
	for _, tc := range []struct {
		env      string
		wantFail bool
		want     string
	}{
		{"", false, "--- SKIP: TestChild"},
		{"0", false, "--- SKIP: TestChild"},
		{"1", true, "--- FAIL: TestChild"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.v")
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

// TestChild is run by TestSkipOrFail only.
func TestChild(t *testing.T) {
	if os.Getenv("TESTSKIP_CHILD") != "1" {
		t.Skip("run by TestSkipOrFail only")
	}
	Skipf(t, "needs a %s", "unicorn")
}
