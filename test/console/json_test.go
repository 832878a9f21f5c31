package console

import (
	"encoding/base64"
	"encoding/json"
	"io"
)

func decodeJSON(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
func jsonMarshal(v any) ([]byte, error)   { return json.Marshal(v) }

func b64(b []byte) string        { return base64.StdEncoding.EncodeToString(b) }
func basicCreds(s string) string { return b64([]byte("operator:" + s)) }
