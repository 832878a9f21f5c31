package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/bootfs/bootfs/region"
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
	base   string
	secret string
	hc     *http.Client
}

func newAPIClient(c *cli.Context) (*apiClient, error) {
	secret, err := region.LoadSecret(c.String("secret-file"), false)
	if err != nil {
		return nil, err
	}
	return &apiClient{base: strings.TrimRight(c.String("region"), "/"), secret: string(secret),
		hc: &http.Client{Timeout: 30 * time.Second}}, nil
}

func (a *apiClient) at(base string) *apiClient {
	return &apiClient{base: strings.TrimRight(base, "/"), secret: a.secret, hc: a.hc}
}

// do sends a request; a non-2xx answer is an error carrying the body's text.
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
		return fmt.Errorf("reach region %s: %w", a.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s %s: %s: %s", method, a.base+path, resp.Status, strings.TrimSpace(string(msg)))
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}
