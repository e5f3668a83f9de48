package gateway

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/labstack/echo/v4"
)

// parseTrustedProxies parses comma-split CIDRs (a bare address is its own /32 or /128).
func parseTrustedProxies(cidrs []string) ([]*net.IPNet, error) {
	out := make([]*net.IPNet, 0, len(cidrs))
	for _, s := range cidrs {
		if ip := net.ParseIP(s); ip != nil {
			bits := 8 * net.IPv6len
			if ip4 := ip.To4(); ip4 != nil {
				ip, bits = ip4, 8*net.IPv4len
			}
			out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			return nil, fmt.Errorf("trusted-proxies: %q is not a CIDR (e.g. 10.0.0.0/8) or an IP address", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// ipExtractor is the client address of the audit log and the policy input: the socket peer,
// unless the peer is a trusted proxy. Then X-Forwarded-For gives the rightmost address that
// is not a trusted proxy (or, without it, X-Real-IP gives the address). Nothing is trusted
// implicitly: not loopback, not private networks.
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	xff, realIP := echo.ExtractIPFromXFFHeader(opts...), echo.ExtractIPFromRealIPHeader(opts...)
	return func(req *http.Request) string {
		if len(req.Header.Values(echo.HeaderXForwardedFor)) > 0 {
			return xff(req)
		}
		return realIP(req)
	}
}

// errSlowBody ends the read of a request body that arrives slower than the minimum rate.
var errSlowBody = &apiError{Status: http.StatusRequestTimeout, Code: "request_timeout",
	Message: "the request body arrived too slowly; the connection is closed"}

// paceBody holds a request body to a minimum rate: the connection's read deadline is the
// request's start plus the grace period plus one second per rate bytes received, so a
// client trickling a body is cut off instead of holding its socket (and a handler) forever.
// The deadline is lifted once the body is read to its end.
func (s *Server) paceBody(c echo.Context, start time.Time) {
	req := c.Request()
	if req.Body == nil || req.Body == http.NoBody || s.cfg.BodyMinRate <= 0 {
		return
	}
	p := &pacedBody{body: req.Body, rc: http.NewResponseController(c.Response().Writer),
		start: start, grace: s.cfg.BodyGracePeriod, rate: s.cfg.BodyMinRate}
	if err := p.extend(); err != nil {
		return // not a connection whose deadline we can set (HTTP/2, a test recorder)
	}
	req.Body = p
}

type pacedBody struct {
	body     io.ReadCloser
	rc       *http.ResponseController
	start    time.Time
	grace    time.Duration
	rate     int64
	received int64
	deadline time.Time // the read deadline last set
	done     bool
}

// deadlineStep is the least extension worth setting (a deadline is a timer update).
const deadlineStep = 100 * time.Millisecond

func (p *pacedBody) allowed() time.Time {
	return p.start.Add(p.grace + time.Duration(float64(p.received)/float64(p.rate)*float64(time.Second)))
}

func (p *pacedBody) extend() error {
	d := p.allowed()
	if err := p.rc.SetReadDeadline(d); err != nil {
		return err
	}
	p.deadline = d
	return nil
}

func (p *pacedBody) Read(b []byte) (int, error) {
	if p.done {
		return p.body.Read(b)
	}
	n, err := p.body.Read(b)
	p.received += int64(n)
	switch {
	case err == io.EOF:
		// The whole body is in: the server's own deadlines apply again (a deadline left
		// behind would cut the connection while the handler works).
		p.done = true
		_ = p.rc.SetReadDeadline(time.Time{})
	case errors.Is(err, os.ErrDeadlineExceeded):
		return n, fmt.Errorf("%w (read %d bytes in %s)", errSlowBody, p.received, time.Since(p.start).Round(time.Millisecond))
	case err == nil && n > 0 && p.allowed().Sub(p.deadline) >= deadlineStep:
		_ = p.extend()
	}
	return n, err
}

func (p *pacedBody) Close() error { return p.body.Close() }
