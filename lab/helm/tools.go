//go:build tools

// Package tools pins the helm CLI: scripts/build-helm.sh builds helm.sh/helm/v4/cmd/helm from this module, so the
// tests use the real helm binary at the version go.mod names. It is kept apart from lab/kube: helm brings its own
// k8s.io release.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
