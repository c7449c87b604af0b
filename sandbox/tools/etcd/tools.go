//go:build tools

// Package tools pins the main package the sandbox builds from this module.
package tools

import _ "go.etcd.io/etcd/server/v3"
