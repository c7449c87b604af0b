//go:build tools

// Package tools pins the main package the sandbox builds from this module.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
