package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bootfs/bootfs/internal/version"
	"github.com/bootfs/bootfs/internal/wire"
)

// consoleView is everything the console page shows, built once per render.
type consoleView struct {
	wire.Status
	Version string
	Now     time.Time
	// CSRF is the session's token; "" when the viewer cannot change
	// anything (Basic auth), and then no action is offered.
	CSRF     string
	LoggedIn bool
	Flash    string
	Banners  []bannerView
	Images   []imageView
	// ImagesAPI is false while GET PathImages is not served: origin and
	// title are then unknown.
	ImagesAPI bool
	Sources   []wire.Source
	Regions   []regionView
	// Running: an import or sync runs on some region (Stop is offered).
	Running bool
}

type bannerView struct {
	wire.Banner
	Text string // Message with byte counts in binary units
	Hint string // what to do
}

type imageView struct {
	Name, Architecture, Origin, Title, Source string
	Versions                                  []versionView
}

type versionView struct {
	Version, Label string
	Size           int64
	Files          int
	Offered        bool
	HeldBackBy     []string
	Created        time.Time
	Retired        *time.Time
	Held           []heldView // per region
}

type heldView struct {
	Region      string
	Bytes, Size int64
}

type regionView struct {
	wire.RegionStatus
	Self bool
}

// buildView assembles the console for r (whose credentials it reuses to
// ask the API for the image list).
func (s *Server) buildView(ctx context.Context, r *http.Request) (consoleView, error) {
	st, err := s.Status(ctx)
	if err != nil {
		return consoleView{}, err
	}
	v := consoleView{Status: st, Version: versionString(), Now: time.Now()}
	// Only a session gets forms: Basic auth is read-only, and a client
	// with the Bearer secret uses the API.
	if sess, ok := s.session(r); ok && !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		v.LoggedIn = true
		v.CSRF = s.csrfToken(sess)
	}
	for _, b := range st.Banners {
		v.Banners = append(v.Banners, bannerView{Banner: b, Text: humanizeBytes(b.Message), Hint: bannerHint(b.Kind)})
	}
	if st.Migrating != "" {
		v.Banners = append([]bannerView{{Banner: wire.Banner{Region: st.Region, Kind: "migration", Message: st.Migrating}, Text: humanizeBytes(st.Migrating),
			Hint: "Boot files are served once the migration ends; it resumes where it stopped if the region restarts."}}, v.Banners...)
	}
	var images []wire.Image
	if rec := s.callAPI(ctx, r, http.MethodGet, wire.PathImages, nil, ""); rec.code == http.StatusOK {
		if json.Unmarshal(rec.body.Bytes(), &images) == nil {
			v.ImagesAPI = true
		}
	}
	v.Images = mergeImages(st, images)
	// Sources through the API too, so the page shows what it serves
	// (priority included).
	rec := s.callAPI(ctx, r, http.MethodGet, wire.PathSources, nil, "")
	if rec.code != http.StatusOK {
		return v, fmt.Errorf("list sources: %d %s", rec.code, strings.TrimSpace(rec.body.String()))
	}
	if err := json.Unmarshal(rec.body.Bytes(), &v.Sources); err != nil {
		return v, fmt.Errorf("list sources: %w", err)
	}
	for _, reg := range st.Regions {
		v.Regions = append(v.Regions, regionView{RegionStatus: reg, Self: reg.Name == st.Region})
	}
	// Stop import stops imports on every region: offer it while any runs.
	v.Running = st.Import.State == "running" || len(st.Downloads) > 0
	for _, rec := range st.Imports {
		v.Running = v.Running || rec.Outcome == "running"
	}
	return v, nil
}

// mergeImages groups the sets by resource and architecture and adds what
// the image list knows (origin, title, retired versions).
func mergeImages(st wire.Status, images []wire.Image) []imageView {
	type key struct{ name, arch string }
	var out []imageView
	idx := map[key]int{}
	regions := make([]string, 0, len(st.Regions))
	for _, r := range st.Regions {
		regions = append(regions, r.Name)
	}
	get := func(name, arch string) *imageView {
		k := key{name, arch}
		if i, ok := idx[k]; ok {
			return &out[i]
		}
		idx[k] = len(out)
		out = append(out, imageView{Name: name, Architecture: arch})
		return &out[len(out)-1]
	}
	for _, set := range st.Sets {
		im := get(set.Resource, set.Architecture)
		vv := versionView{Version: set.Version, Label: set.Label, Size: set.Size, Offered: set.Available,
			HeldBackBy: set.HeldBackBy, Created: set.Created}
		for _, reg := range regions {
			vv.Held = append(vv.Held, heldView{Region: reg, Bytes: set.Held[reg], Size: set.Size})
		}
		im.Versions = append(im.Versions, vv)
	}
	for _, img := range images {
		im := get(img.Name, img.Architecture)
		im.Origin, im.Title, im.Source = img.Origin, img.Title, img.Source
		for _, iv := range img.Versions {
			i := slices.IndexFunc(im.Versions, func(v versionView) bool { return v.Version == iv.Version && v.Label == iv.Label })
			if i < 0 {
				vv := versionView{Version: iv.Version, Label: iv.Label, Size: iv.Size, Offered: iv.Offered,
					HeldBackBy: iv.HeldBackBy, Created: iv.Created}
				for _, reg := range regions {
					held := int64(0)
					if slices.Contains(iv.HeldBy, reg) {
						held = iv.Size
					}
					vv.Held = append(vv.Held, heldView{Region: reg, Bytes: held, Size: iv.Size})
				}
				im.Versions = append(im.Versions, vv)
				i = len(im.Versions) - 1
			}
			im.Versions[i].Files = iv.Files
			im.Versions[i].Retired = iv.Retired
		}
	}
	slices.SortFunc(out, func(a, b imageView) int {
		return strings.Compare(a.Name+"\x00"+a.Architecture, b.Name+"\x00"+b.Architecture)
	})
	for i := range out {
		slices.SortStableFunc(out[i].Versions, func(a, b versionView) int { return strings.Compare(b.Version, a.Version) })
	}
	return out
}

// bytesInText finds byte counts in banner and error messages: "123 bytes",
// "123 more bytes", "a 123 byte reserve", "123 available".
var bytesInText = regexp.MustCompile(`\b(\d+)( more)? bytes?\b|\b(\d+) (available|free)\b`)

// humanizeBytes rewrites the byte counts in msg in binary units
// ("104857600 bytes" becomes "100.0 MiB").
func humanizeBytes(msg string) string {
	return bytesInText.ReplaceAllStringFunc(msg, func(m string) string {
		sub := bytesInText.FindStringSubmatch(m)
		num, rest := sub[1], sub[2]
		if num == "" {
			num, rest = sub[3], " "+sub[4]
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return m
		}
		return HumanBytes(n) + rest
	})
}

// bannerHint says what an operator does about a banner of kind.
func bannerHint(kind string) string {
	switch kind {
	case "disk-space":
		return "Free space in the store directory, or give it a larger disk (--storage); the region retries by itself at its next sync."
	case "import":
		return "Check the source (URL, keyring) under Sources and the region's log, then start the import again."
	case BannerVersionMix:
		return "Finish the upgrade: install the same bootfs-region package on every region."
	}
	return ""
}

func versionString() string { return version.String() }
