package gateway

import (
	"bytes"
	"encoding/json"

	"github.com/labstack/echo/v4"
)

// writeMetadataResult answers {"metadata-location", "metadata", "config"} around metadata
// JSON that is already encoded (and cached): encoding it again through encoding/json would
// re-validate every byte of what can be a large document on the commit and load paths.
// config nil leaves "config" out (the commit response has none).
func writeMetadataResult(c echo.Context, status int, loc string, metadata json.RawMessage, config map[string]string) error {
	locJSON, err := json.Marshal(loc)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	b.Grow(len(metadata) + len(locJSON) + 64)
	if loc != "" {
		b.WriteString(`{"metadata-location":`)
		b.Write(locJSON)
		b.WriteString(`,"metadata":`)
	} else {
		b.WriteString(`{"metadata":`)
	}
	b.Write(metadata)
	if config != nil {
		cfg, err := json.Marshal(config)
		if err != nil {
			return err
		}
		b.WriteString(`,"config":`)
		b.Write(cfg)
	}
	b.WriteByte('}')
	return c.JSONBlob(status, b.Bytes())
}
