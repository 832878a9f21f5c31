package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/bootfs/bootfs/internal/digest"
	"github.com/bootfs/bootfs/internal/wire"
	"github.com/bootfs/bootfs/migrate"
	"github.com/bootfs/bootfs/region"
	"github.com/bootfs/bootfs/region/upload"
)

func init() { imagesSubcommands = append(imagesSubcommands, imagesUploadCommand()) }

func imagesUploadCommand() *cli.Command {
	return &cli.Command{
		Name:      "upload",
		Usage:     "upload a custom image (MAAS's `boot-resources create`)",
		ArgsUsage: "NAME FILE",
		Description: "Uploads FILE as boot resource NAME to the region (--region), which copies it to every\n" +
			"other region; the boot tree offers it, at <os>/<arch>/<subarch>/<release>/uploaded/<file>\n" +
			"(e.g. custom/amd64/generic/NAME/uploaded/root-tgz) and under images/, once every region\n" +
			"holds it. NAME and custom/NAME are os custom; OS/RELEASE (rhel/9, windows/win2016) keeps\n" +
			"its os. The sha256 and size are sent first, then the bytes in chunks; the region verifies\n" +
			"them and stores nothing if they do not match. An interrupted upload resumes where the region\n" +
			"has bytes when the same command runs again. Uploading NAME again makes a new version; the\n" +
			"previous one is served until the new one is on every region.",
		Flags: append(clientFlags(),
			&cli.StringFlag{Name: "architecture", Required: true,
				Usage: "ARCH/SUBARCH the image boots on, e.g. amd64/generic"},
			&cli.StringFlag{Name: "filetype", Value: upload.DefaultFiletype,
				Usage: "what FILE is: " + strings.Join(upload.Filetypes, ", ") +
					" (tgz, tbz, txz: a root tarball; dd*: a disk image, tarred and/or compressed; ddraw: raw)"},
			&cli.StringFlag{Name: "title", Usage: "a title shown for the image"},
			&cli.StringFlag{Name: "base-image", Usage: "OS/RELEASE a custom image is based on, e.g. ubuntu/noble"},
		),
		Action: runImagesUpload,
	}
}

// uploadDeclaration checks the command line and returns what is declared
// (without sha256 and size) and the file name.
func uploadDeclaration(c *cli.Context) (wire.UploadStart, string, error) {
	if c.NArg() != 2 {
		return wire.UploadStart{}, "", fmt.Errorf("give NAME and FILE (e.g. `images upload myimage ./root.tgz --architecture amd64/generic`), got %d argument(s)", c.NArg())
	}
	in := wire.UploadStart{Architecture: c.String("architecture"), Filetype: c.String("filetype"),
		Title: c.String("title"), BaseImage: c.String("base-image")}
	var err error
	if in.Name, err = upload.Name(c.Args().Get(0)); err != nil {
		return in, "", err
	}
	if _, err := upload.Architecture(in.Architecture); err != nil {
		return in, "", err
	}
	if _, err := upload.Filename(in.Filetype); err != nil {
		return in, "", err
	}
	if err := upload.BaseImage(in.BaseImage); err != nil {
		return in, "", err
	}
	return in, c.Args().Get(1), nil
}

func runImagesUpload(c *cli.Context) error {
	in, path, err := uploadDeclaration(c)
	if err != nil {
		return err
	}
	secret, err := region.LoadSecret(c.String("secret-file"), false)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Size() == 0 {
		return fmt.Errorf("%s: not a regular file with bytes in it", path)
	}
	in.Size = fi.Size()
	bar := newUploadBar(c, in.Size)
	bar.phase("hashing")
	h := sha256.New()
	if _, err := io.Copy(h, io.TeeReader(f, bar)); err != nil {
		return fmt.Errorf("hash %s: %w", path, err)
	}
	in.SHA256 = digest.FromHash(h)
	bar.phase("uploading")
	cl := &upload.Client{Base: c.String("region"), Secret: string(secret), Progress: bar.set}
	res, err := cl.Send(c.Context, in, f)
	bar.finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "uploaded %s %s version %s: %d bytes sent, %d already on the region; it is offered once every region holds it\n",
		res.Name, res.Architecture, res.Version, res.Sent, res.Resumed)
	return nil
}

// uploadBar shows hashing and upload progress: a bar when the output is a
// terminal (as `import --wait` draws it), else a line every 5 seconds.
type uploadBar struct {
	c     *cli.Context
	size  int64
	tty   bool
	bar   *progressbar.ProgressBar
	name  string
	done  int64
	first int64 // bytes the region had when uploading started; -1 before
	last  time.Time
}

func newUploadBar(c *cli.Context, size int64) *uploadBar {
	b := &uploadBar{c: c, size: size, first: -1}
	if f, ok := c.App.Writer.(*os.File); ok {
		b.tty = term.IsTerminal(int(f.Fd()))
	}
	return b
}

func (b *uploadBar) phase(name string) {
	b.finish()
	b.name, b.done, b.last = name, 0, time.Now()
	if b.tty {
		b.bar = progressbar.NewOptions64(b.size, progressbar.OptionSetWriter(b.c.App.Writer),
			progressbar.OptionShowBytes(true), progressbar.OptionSetWidth(30),
			progressbar.OptionSetDescription(name), progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionShowCount())
	}
}

// Write counts hashed bytes.
func (b *uploadBar) Write(p []byte) (int, error) {
	b.set(b.done+int64(len(p)), b.size)
	return len(p), nil
}

// set shows n of size bytes done.
func (b *uploadBar) set(n, size int64) {
	if b.first < 0 && b.name == "uploading" {
		b.first = n
		if n > 0 && n < size {
			fmt.Fprintf(b.c.App.ErrWriter, "resuming: the region has %s of %s\n", migrate.HumanBytes(n), migrate.HumanBytes(size))
		}
	}
	b.done = n
	if b.bar != nil {
		_ = b.bar.Set64(n)
		return
	}
	if time.Since(b.last) >= 5*time.Second {
		fmt.Fprintf(b.c.App.ErrWriter, "%s: %s of %s\n", b.name, migrate.HumanBytes(n), migrate.HumanBytes(size))
		b.last = time.Now()
	}
}

func (b *uploadBar) finish() {
	if b.bar != nil {
		_ = b.bar.Finish()
		fmt.Fprintln(b.c.App.Writer)
		b.bar = nil
	}
}
