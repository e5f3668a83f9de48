package segment

import (
	"strings"
	"testing"
)

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"orders", "Sales-EU", "a/b", "..", "ünï", "~7e", "a b*c>d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		e := Escape(name)
		if strings.ContainsAny(e, "/.%-*> \x00") {
			t.Fatalf("Escape(%q) = %q", name, e)
		}
		if name == "" {
			return
		}
		back, err := Unescape(e)
		if err != nil || back != name {
			t.Fatalf("Unescape(Escape(%q)) = %q, %v", name, back, err)
		}
	})
}

func TestUnescapeRefusesBadEscapes(t *testing.T) {
	for _, s := range []string{"", "a~", "a~1", "a~zz"} {
		if _, err := Unescape(s); err == nil {
			t.Errorf("Unescape(%q) succeeded", s)
		}
	}
}
