// compose-check loads a compose file as `docker compose config` does, with compose-go (the library
// Docker Compose itself loads files with): schema validation, interpolation, YAML merge keys and
// normalization. It prints the resolved project as JSON, or the loader's error and exits 1. It runs
// where there is no Docker engine (test/integration/compose-config.test.ts, through scripts/compose-config).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: compose-check <compose file>")
		os.Exit(2)
	}
	file, err := filepath.Abs(os.Args[1])
	if err == nil {
		var options *cli.ProjectOptions
		options, err = cli.NewProjectOptions(
			[]string{file},
			cli.WithOsEnv,
			cli.WithWorkingDirectory(filepath.Dir(file)),
		)
		if err == nil {
			project, loadErr := options.LoadProject(context.Background())
			if loadErr == nil {
				out, _ := json.MarshalIndent(project, "", "  ")
				fmt.Println(string(out))
				return
			}
			err = loadErr
		}
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
