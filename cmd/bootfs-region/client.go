package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/bootfs/bootfs/region"
	"github.com/bootfs/bootfs/region/httpapi"
)

// clientFlags are the flags of commands that talk to a running region.
func clientFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "region", Value: "http://localhost:5240", EnvVars: []string{"BOOTFS_REGION_URL"},
			Usage: "URL of a running region"},
		&cli.StringFlag{Name: "secret-file", Value: "/var/lib/maas/secret", EnvVars: []string{"BOOTFS_SECRET_FILE"},
			Usage: "file holding the shared secret"},
	}
}

// apiClient calls one region's HTTP API with the shared secret.
type apiClient struct {
	base       string
	secret     string
	secretFile string // where secret came from, for the 401 message
	hc         *http.Client
}

func newAPIClient(c *cli.Context) (*apiClient, error) {
	base, err := regionURL(c.String("region"))
	if err != nil {
		return nil, err
	}
	file := c.String("secret-file")
	secret, err := region.LoadSecret(file, false)
	if errors.Is(err, fs.ErrPermission) {
		return nil, fmt.Errorf("%w: run the command as root or as a member of the group bootfs-region (e.g. with sudo), "+
			"or point --secret-file (or BOOTFS_SECRET_FILE) at a copy you can read", err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: copy the shared secret of your regions (/var/lib/maas/secret on a region host) "+
			"to that file, or point --secret-file (or BOOTFS_SECRET_FILE) at a copy", err)
	}
	return &apiClient{base: base, secret: string(secret), secretFile: file,
		hc: &http.Client{Timeout: 30 * time.Second}}, nil
}

// regionURL checks --region: an http or https URL with a host and no
// query, user or fragment. Without a scheme ("host:5240", "host") it says
// to add one.
func regionURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", errors.New("--region is empty: give the URL of a running region, e.g. --region http://region-host:5240")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" {
		if !strings.Contains(raw, "://") {
			return "", fmt.Errorf("--region %q has no scheme: write it as a URL, e.g. --region http://%s", raw, defaultPort(raw))
		}
		return "", fmt.Errorf("--region %q is not an http:// or https:// URL: write it as e.g. --region http://region-host:5240", raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("--region %q has no host: write it as e.g. --region http://region-host:5240", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("--region %q must not have a query, fragment or user name: give only scheme, host, port and path, e.g. http://region-host:5240", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// defaultPort adds the region's port 5240 to a bare host name.
func defaultPort(hostport string) string {
	if _, _, err := net.SplitHostPort(hostport); err == nil || strings.Contains(hostport, "/") {
		return hostport
	}
	return net.JoinHostPort(hostport, "5240")
}

func (a *apiClient) at(base string) *apiClient {
	return &apiClient{base: strings.TrimRight(base, "/"), secret: a.secret, secretFile: a.secretFile, hc: a.hc}
}

// do sends a request; a non-2xx answer is an error carrying the body's text.
// Errors say what to fix: a region that cannot be reached, a service that
// is not a bootfs region, a secret the region refuses.
func (a *apiClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.secret)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return a.unreachable(err)
	}
	defer resp.Body.Close()
	isRegion := resp.Header.Get(httpapi.RegionHeader) != ""
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return a.statusError(method, path, resp, isRegion, msg)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			if !isRegion {
				return a.notRegion(method, path, resp)
			}
			return fmt.Errorf("%s %s: the region's answer is not the JSON expected: %w", method, a.base+path, err)
		}
	}
	return nil
}

// unreachable words a transport error: what failed and what to check.
func (a *apiClient) unreachable(err error) error {
	var dnsErr *net.DNSError
	var nerr net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("cannot reach the region at %s: connection refused: nothing listens there; "+
			"check that `bootfs-region serve` runs on that host (systemctl status bootfs-region) and that --region "+
			"(or BOOTFS_REGION_URL) has its address and port (default 5240): %w", a.base, err)
	case errors.As(err, &dnsErr):
		return fmt.Errorf("cannot reach the region at %s: unknown host %q: fix the host name in --region (or BOOTFS_REGION_URL): %w",
			a.base, dnsErr.Name, err)
	case errors.As(err, &nerr) && nerr.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("cannot reach the region at %s: no answer in time: check the address in --region, "+
			"that the region runs, and that no firewall drops the port: %w", a.base, err)
	}
	return fmt.Errorf("cannot reach the region at %s: %w (check --region or BOOTFS_REGION_URL)", a.base, err)
}

// statusError words a non-2xx answer.
func (a *apiClient) statusError(method, path string, resp *http.Response, isRegion bool, msg []byte) error {
	text := strings.TrimSpace(string(msg))
	switch {
	case !isRegion:
		return a.notRegion(method, path, resp)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("the region at %s refused the shared secret in %s (%s): this file must hold the same secret "+
			"as the regions' (/var/lib/maas/secret on a region host); copy it here, or point --secret-file "+
			"(or BOOTFS_SECRET_FILE) at a copy", a.base, a.secretFile, resp.Status)
	}
	return &statusError{code: resp.StatusCode, msg: fmt.Sprintf("%s %s: %s: %s", method, a.base+path, resp.Status, text)}
}

// statusError is a region's answer other than 2xx; errors.Is(err,
// errNotFound) holds for a 404 (what was named does not exist).
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

func (e *statusError) Is(target error) bool {
	return target == errNotFound && e.code == http.StatusNotFound
}

var errNotFound = errors.New("not found")

// notRegion says that whatever answered is not a bootfs region.
func (a *apiClient) notRegion(method, path string, resp *http.Response) error {
	what := resp.Header.Get("Server")
	if what == "" {
		what = resp.Header.Get("Content-Type")
	}
	if what != "" {
		what = " (" + what + ")"
	}
	return fmt.Errorf("%s does not answer like a bootfs region: %s %s got %s%s: another service listens there; "+
		"point --region (or BOOTFS_REGION_URL) at the address of `bootfs-region serve` (its --listen or --url, port 5240 by default)",
		a.base, method, path, resp.Status, what)
}
