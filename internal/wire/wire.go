// Package wire holds the JSON types and URL paths of the region HTTP API,
// shared by the region (which serves them) and the rack (which reads them).
// Changing a type here changes the protocol between regions and racks.
package wire

import (
	"time"

	"github.com/bootfs/bootfs/internal/digest"
)

// API paths. Every path but PathHealth requires the shared secret, sent as
// "Authorization: Bearer <secret>" (or HTTP Basic auth with the secret as
// password, for browsers).
const (
	PathHealth = "/healthz"
	// PathTree serves Tree. It honours If-None-Match with the tree's
	// Generation as ETag; with ?wait=DURATION (at most 5m) it holds the
	// request until the tree changes or the wait runs out (then 304).
	PathTree = "/api/v1/tree"
	// PathBlobs + "<sha256>" serves a file's bytes, with single and
	// multi-part Range. PathBlobs + "<sha256>/blocks" serves BlockDigests.
	PathBlobs = "/api/v1/blobs/"
	// PathStatus serves Status.
	PathStatus = "/api/v1/status"
	// PathImport: POST starts an import now (202); GET serves ImportStatus.
	PathImport = "/api/v1/import"
	// PathMAAS + "<filename_on_disk>/<anything>" serves a file's bytes the
	// way MAAS 3.5 regions do.
	PathMAAS    = "/MAAS/boot-resources/"
	PathMetrics = "/metrics"
)

// Tree is the boot tree a rack shows: every path and the file behind it.
// Only resource sets complete on every region are in it.
type Tree struct {
	// Generation changes whenever any entry changes; it is the ETag.
	Generation string `json:"generation"`
	// Regions lists every registered region and where to reach it.
	Regions []Region `json:"regions"`
	Files   []Entry  `json:"files"`
}

// Entry is one file of the boot tree.
type Entry struct {
	// Path is slash-separated and relative, e.g.
	// "ubuntu/amd64/ga-22.04/jammy/stable/boot-kernel", "bootx64.efi",
	// "bootloaders/uefi/amd64/bootx64.efi", "images/1a2b3c4".
	Path   string        `json:"path"`
	SHA256 digest.Digest `json:"sha256"`
	Size   int64         `json:"size"`
	// Regions names the regions holding a complete, verified copy.
	Regions []string `json:"regions"`
}

// Region is a region controller as racks and peers see it.
type Region struct {
	Name          string    `json:"name"`
	URL           string    `json:"url"`
	LastHeartbeat time.Time `json:"last_heartbeat"`
	Alive         bool      `json:"alive"`
}

// BlockDigests lists the digest of each BlockSize block of one file; the
// last block may be short. A rack verifies every block it fetches.
// Algorithm names the block digests' algorithm, digest.BLAKE3 or
// digest.SHA256; empty (a region of an earlier release) means SHA-256.
// SHA256 is always the whole file's SHA-256, its identity.
//
// A client that can check BLAKE3 block digests asks for
// PathBlobs + "<sha256>/blocks?" + BlockAlgorithmsParam + "=blake3"; a
// region answers a request without it (a rack or region of an earlier
// release, which would check every digest as a SHA-256) with SHA-256
// block digests only.
type BlockDigests struct {
	SHA256    digest.Digest   `json:"sha256"`
	Size      int64           `json:"size"`
	BlockSize int64           `json:"block_size"`
	Blocks    []digest.Digest `json:"blocks"`
	Algorithm string          `json:"algorithm"`
}

// BlockAlgorithmsParam is the query parameter of a block digests request
// listing, comma-separated, the block digest algorithms the client checks
// besides SHA-256 (today "blake3").
const BlockAlgorithmsParam = "algorithms"

// Banner is a persistent problem an operator must see; it clears itself when
// the condition goes away.
type Banner struct {
	Region  string    `json:"region"`
	Kind    string    `json:"kind"` // e.g. "disk-space", "import", "migration", "version-mix"
	Message string    `json:"message"`
	Since   time.Time `json:"since"`
}

// Status is what /api/v1/status, `bootfs-region status` and the HTML page show.
type Status struct {
	Region  string         `json:"region"`
	Regions []RegionStatus `json:"regions"`
	Sets    []SetStatus    `json:"sets"`
	Banners []Banner       `json:"banners"`
	Import  ImportStatus   `json:"import"`
	Store   StoreStatus    `json:"store"`
	// Downloads lists upstream downloads in progress on any region.
	Downloads []Download `json:"downloads,omitempty"`
	// Migrating is set while a one-time migration runs, e.g.
	// "migrating: 3 of 10 files, 1.2 GiB of 4.0 GiB".
	Migrating string `json:"migrating,omitempty"`
	// Imports is the import history of every region, newest first.
	Imports []ImportRecord `json:"imports,omitempty"`
	// ImportsStopped is when an operator stopped imports (`bootfs-region
	// import --stop`) on every region; nil when they are not stopped. No
	// region imports or syncs by itself until the next `bootfs-region import`.
	ImportsStopped *time.Time `json:"imports_stopped,omitempty"`
}

// RegionStatus is one region's line in Status.
type RegionStatus struct {
	Region
	// Version is the build the region runs ("" if it never said).
	Version string `json:"version"`
	// Stopped is set when the region stopped cleanly (it is then not
	// alive, and LastHeartbeat is that time).
	Stopped     *time.Time `json:"stopped,omitempty"`
	BytesHeld   int64      `json:"bytes_held"`
	BytesWanted int64      `json:"bytes_wanted"`
	// SetsHeld counts the resource sets this region holds completely, of
	// SetsWanted (every set recorded).
	SetsHeld   int `json:"sets_held"`
	SetsWanted int `json:"sets_wanted"`
}

// SetStatus is one resource set (a version of a resource) and how complete
// it is on each region.
type SetStatus struct {
	Resource     string `json:"resource"`     // e.g. "ubuntu/jammy"
	Architecture string `json:"architecture"` // e.g. "amd64/ga-22.04"
	Version      string `json:"version"`
	Label        string `json:"label"`
	Size         int64  `json:"size"`
	// Available: complete on every region and the newest such set, so in the tree.
	Available bool `json:"available"`
	// Held maps region name to bytes held of this set.
	Held map[string]int64 `json:"held"`
	// HeldBackBy names the regions that lack files of this newer set, if
	// any; the set has been waiting for them since Created.
	HeldBackBy []string  `json:"held_back_by,omitempty"`
	Created    time.Time `json:"created"`
}

// ImportStatus is the progress of the latest import on this region.
type ImportStatus struct {
	State string `json:"state"` // "idle", "running", "done", "failed", "stopped" (by an operator: import --stop)
	// Kind is "import" (upstream metadata, then files) or "sync" (files
	// only: copying from peers what this region lacks).
	Kind       string    `json:"kind,omitempty"`
	Started    time.Time `json:"started,omitzero"`
	Finished   time.Time `json:"finished,omitzero"`
	Error      string    `json:"error,omitempty"`
	FilesDone  int       `json:"files_done"`
	FilesTotal int       `json:"files_total"`
	BytesDone  int64     `json:"bytes_done"`
	BytesTotal int64     `json:"bytes_total"`
	// Current lists the files being downloaded now.
	Current []Transfer `json:"current,omitempty"`
	// Generation increases with every import or sync started.
	Generation int64 `json:"generation"`
	// Imports counts the imports started (not syncs); LastImport is how the
	// latest finished import ended. A client that asked for an import waits
	// until LastImport.Number exceeds the Imports it saw.
	Imports    int64        `json:"imports"`
	LastImport *ImportEnded `json:"last_import,omitempty"`
	// Refused lists what the region refused to import, with why: products
	// of the latest import whose metadata is bad, and bootloader archives
	// that cannot be extracted. Everything else was imported.
	Refused []Refusal `json:"refused,omitempty"`
	// FailedProducts lists the products the last run could not complete,
	// and why: a file that could not be fetched or verified, or an archive
	// that could not be extracted. Such a failure fails its product, not
	// the run: the other products are imported and published.
	FailedProducts []ProductFailure `json:"failed_products,omitempty"`
}

// Refusal is one product (or one of its files) a region refused.
type Refusal struct {
	Source  string `json:"source,omitempty"`  // mirror URL
	Product string `json:"product"`           // product id, or resource name for an archive
	Version string `json:"version,omitempty"` // product version, if known
	Item    string `json:"item,omitempty"`    // item or archive file, if one is to blame
	Field   string `json:"field,omitempty"`   // offending field, e.g. "release"
	Value   string `json:"value,omitempty"`   // its value
	Reason  string `json:"reason"`            // the full error
}

// ProductFailure is one product an import or sync could not complete.
type ProductFailure struct {
	Product      string `json:"product,omitempty"` // upstream product id
	Resource     string `json:"resource"`          // e.g. "ubuntu/jammy"
	Architecture string `json:"architecture"`      // e.g. "amd64/ga-22.04"
	Version      string `json:"version"`
	File         string `json:"file"`   // the file that failed
	Reason       string `json:"reason"` // why
}

// ImportEnded is the outcome of one finished import.
type ImportEnded struct {
	Number   int64     `json:"number"`
	State    string    `json:"state"` // "done", "failed" or "stopped"
	Error    string    `json:"error,omitempty"`
	Finished time.Time `json:"finished"`
	// FailedProducts are the products this import could not complete (see
	// ImportStatus.FailedProducts); kept here when a peer sync runs next.
	FailedProducts []ProductFailure `json:"failed_products,omitempty"`
}

// Download is an upstream download claimed by a region.
type Download struct {
	SHA256  digest.Digest `json:"sha256"`
	Region  string        `json:"region"`
	From    string        `json:"from"`
	Since   time.Time     `json:"since"`
	Expired bool          `json:"expired"` // its region stopped renewing it; another will take over
}

// Transfer is one download in progress.
type Transfer struct {
	SHA256 digest.Digest `json:"sha256"`
	Name   string        `json:"name"`
	From   string        `json:"from"`
	Done   int64         `json:"done"`
	Size   int64         `json:"size"`
}

// StoreStatus describes the region's local store.
type StoreStatus struct {
	Dir        string `json:"dir"`
	Files      int    `json:"files"`
	Bytes      int64  `json:"bytes"`
	FreeBytes  uint64 `json:"free_bytes"`
	Quarantine int    `json:"quarantined"`
}

// Admin paths used by the bootfs-region CLI.
const (
	// PathSources: GET lists []Source; POST adds one (body Source; 409 if
	// its URL is configured already); PUT replaces the keyring, unsigned
	// flag, priority and selections of an existing one (body Source; 404
	// if none has its URL); DELETE PathSources?url=URL removes one. POST
	// and PUT first fetch and verify the mirror's index with the keyring
	// (422 with a message naming the fix when that fails). All three
	// answer SourceResult.
	PathSources = "/api/v1/sources"
	// PathRegions: GET lists []RegionStatus; DELETE PathRegions+"/<name>"
	// removes (decommissions) a region.
	PathRegions = "/api/v1/regions"
)

// Source is an upstream simplestreams mirror and its selections.
type Source struct {
	URL        string      `json:"url"`
	Keyring    []byte      `json:"keyring,omitempty"` // OpenPGP public keyring, binary or armored
	Unsigned   bool        `json:"unsigned"`
	Selections []Selection `json:"selections"`
	// Priority: when two sources carry the same product, the higher wins
	// (ties: the newer version, then the source added first).
	Priority int `json:"priority"`
}

// SourceResult answers POST, PUT and DELETE PathSources.
type SourceResult struct {
	// Products is how many products of the mirror the selections pick.
	Products int `json:"products"`
	// Warnings, e.g. a selection that matches nothing upstream.
	Warnings []string `json:"warnings,omitempty"`
	// Retired is how many resource sets left the tree because of the
	// change (nothing selects them any more); their files are deleted
	// after the cleanup grace.
	Retired int64 `json:"retired"`
}

// Selection picks products of a source; "*" or an empty list matches all.
type Selection struct {
	OS        string   `json:"os"`
	Release   string   `json:"release"`
	Arches    []string `json:"arches"`
	Subarches []string `json:"subarches"`
	Labels    []string `json:"labels"`
}

// Image lifecycle paths (custom uploads, listing, deletion, stopping an
// import, mirror contents). The console uses the same paths.
const (
	// PathImages: GET lists []Image; DELETE PathImages?name=NAME
	// [&architecture=ARCH/SUBARCH][&deselect=1] withdraws a resource from
	// the tree at once on every region (its files go after the cleanup
	// grace). 409 with a message when a selection still picks an upstream
	// resource and deselect is not set; 404 when nothing matches. DELETE
	// answers ImageDeleted.
	PathImages = "/api/v1/images"
	// PathUploads: POST (body UploadStart) begins or resumes an upload and
	// answers Upload. The same name, architecture, sha256 and size resume
	// the upload already under way (Received tells how much arrived).
	// PUT PathUploads+"/<id>?offset=N" (body: application/octet-stream,
	// at most 64 MiB per request: 413 beyond) appends bytes at N, which
	// must equal Received (409 with the Upload otherwise); it answers
	// Upload. When Received reaches Size the region verifies the sha256
	// and records the resource (Done); wrong bytes, or more than Size,
	// are refused (422) and nothing is stored; too little disk is 507.
	// GET PathUploads+"/<id>" serves Upload; DELETE PathUploads+"/<id>"
	// abandons it.
	PathUploads = "/api/v1/uploads"
	// PathImportStop: POST stops the running import on every region (202).
	PathImportStop = "/api/v1/import/stop"
	// PathAvailable: GET PathAvailable?url=URL lists []AvailableProduct of
	// a mirror (a configured source's keyring is used; POST with body
	// Source checks an unsaved one).
	PathAvailable = "/api/v1/sources/available"
)

// Image is one boot resource (upstream, uploaded or migrated) with its
// versions, as `bootfs-region images list --json` prints it.
type Image struct {
	Name         string `json:"name"`         // e.g. "ubuntu/noble", "custom/myimage"
	Architecture string `json:"architecture"` // e.g. "amd64/ga-24.04", "amd64/generic"
	// Origin is "upstream", "uploaded" or "migrated".
	Origin string `json:"origin"`
	Title  string `json:"title,omitempty"`
	// Source is the mirror URL an upstream image came from.
	Source   string         `json:"source,omitempty"`
	Versions []ImageVersion `json:"versions"`
}

// ImageVersion is one version (resource set) of an Image.
type ImageVersion struct {
	Version string `json:"version"`
	Label   string `json:"label"`
	Size    int64  `json:"size"`
	Files   int    `json:"files"`
	// Offered: this version is the one in the tree.
	Offered bool `json:"offered"`
	// HeldBy names the regions holding every file of it.
	HeldBy []string `json:"held_by"`
	// HeldBackBy names the regions that lack files of it (why it is not
	// offered yet), if any.
	HeldBackBy []string  `json:"held_back_by,omitempty"`
	Created    time.Time `json:"created"`
	// Retired is set once it was deleted or deselected; its files go
	// after the cleanup grace.
	Retired *time.Time `json:"retired,omitempty"`
}

// ImageDeleted answers DELETE PathImages.
type ImageDeleted struct {
	// Images are the resources withdrawn, as listed after the deletion.
	Images []Image `json:"images"`
	// Retired is how many versions (sets) left the tree.
	Retired int64 `json:"retired"`
	// Deselected describes each selection changed by deselect.
	Deselected []string `json:"deselected,omitempty"`
}

// UploadStart begins (or resumes) the upload of a custom image.
type UploadStart struct {
	Name         string        `json:"name"`         // "NAME", "custom/NAME", "rhel/9", ...
	Architecture string        `json:"architecture"` // ARCH/SUBARCH, e.g. "amd64/generic"
	Filetype     string        `json:"filetype"`     // tgz (default), tbz, txz, ddtgz, ... ddraw
	Title        string        `json:"title,omitempty"`
	BaseImage    string        `json:"base_image,omitempty"` // OS/RELEASE, for custom images
	SHA256       digest.Digest `json:"sha256"`
	Size         int64         `json:"size"`
}

// Upload is the state of one upload.
type Upload struct {
	ID string `json:"id"`
	UploadStart
	Received int64 `json:"received"`
	// Done is set once the bytes were verified and the resource recorded.
	Done bool `json:"done"`
	// Resource and Version name what it became, once Done.
	Resource string `json:"resource,omitempty"`
	Version  string `json:"version,omitempty"`
}

// ImportRecord is one finished (or running) import or sync of one region,
// kept as history.
type ImportRecord struct {
	Region   string     `json:"region"`
	Kind     string     `json:"kind"` // "import" or "sync"
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished,omitempty"`
	// Outcome is "running", "done", "failed" or "stopped".
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
	Bytes   int64  `json:"bytes"`
	Files   int    `json:"files"`
}

// AvailableProduct is one line of what a mirror offers.
type AvailableProduct struct {
	OS            string   `json:"os"`
	Release       string   `json:"release"`
	Arch          string   `json:"arch"`
	Subarches     []string `json:"subarches"`
	Labels        []string `json:"labels"`
	NewestVersion string   `json:"newest_version"`
	Size          int64    `json:"size"` // bytes of the newest version's files
}
