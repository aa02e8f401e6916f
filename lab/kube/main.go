// kube-lab-apiserver runs a real etcd (embedded) and a real kube-apiserver (in-process, from k8s.io/kubernetes) for
// metal-vrrp's tests and lab: RBAC on, ServiceAccount signing keys and an admin token made at start. It prints one
// line "kube-lab-apiserver ready <url>" once /readyz answers ok and writes an admin kubeconfig; SIGTERM stops it.
// Flags after "--" go to kube-apiserver unchanged. Started again on the same --data-dir it is the same cluster: etcd's
// data, its ports, the secure port, the keys and the admin token are kept, so clients' tokens and kubeconfigs stay
// valid. SIGUSR1 compacts etcd to its current revision (tests: watches behind it then get 410 Gone).
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	dataDir := flag.String("data-dir", "", "directory for etcd data, keys, certificates and the token file (required)")
	bind := flag.String("bind-address", "127.0.0.1", "address the secure port and etcd listen on")
	port := flag.Int("secure-port", 0, "kube-apiserver secure port (0: a free one)")
	ipRange := flag.String("service-cluster-ip-range", "10.96.0.0/12", "CIDR Service ClusterIPs are allocated from")
	kubeconfig := flag.String("kubeconfig", "", "where to write the admin kubeconfig (default <data-dir>/admin.kubeconfig)")
	flag.Parse()
	if *dataDir == "" {
		fail(fmt.Errorf("--data-dir is required"))
	}
	if *kubeconfig == "" {
		*kubeconfig = filepath.Join(*dataDir, "admin.kubeconfig")
	}
	certDir := filepath.Join(*dataDir, "pki")
	must(os.MkdirAll(certDir, 0o700))

	// Ports: etcd client, etcd peer, secure port; chosen at the first start, reused by a restart.
	ports := strings.Fields(keep(filepath.Join(*dataDir, "ports"), func() string {
		return fmt.Sprintf("%d %d %d", freePort(*bind), freePort(*bind), freePort(*bind))
	}))
	if len(ports) != 3 {
		fail(fmt.Errorf("%s: want three ports", filepath.Join(*dataDir, "ports")))
	}

	// etcd: one member on loopback-or-bind ports.
	cfg := embed.NewConfig()
	cfg.Dir = filepath.Join(*dataDir, "etcd")
	cfg.Logger, cfg.LogLevel = "zap", "warn"
	client := url.URL{Scheme: "http", Host: net.JoinHostPort(*bind, ports[0])}
	peer := url.URL{Scheme: "http", Host: net.JoinHostPort(*bind, ports[1])}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	etcd, err := embed.StartEtcd(cfg)
	must(err)
	defer etcd.Close()
	select {
	case <-etcd.Server.ReadyNotify():
	case err := <-etcd.Err():
		fail(err)
	case <-time.After(60 * time.Second):
		fail(fmt.Errorf("etcd not ready after 60s"))
	}
	compactOnSIGUSR1(etcd)

	// ServiceAccount token signing key (ES256) and the admin's static token (group system:masters).
	saKey := filepath.Join(certDir, "sa.key")
	keep(saKey, func() string {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		der, err := x509.MarshalECPrivateKey(key)
		must(err)
		return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	})
	tokenFile := filepath.Join(certDir, "tokens.csv")
	token, _, _ := strings.Cut(keep(tokenFile, func() string {
		return randomHex(24) + `,kube-lab-admin,kube-lab-admin,"system:masters"` + "\n"
	}), ",")

	if *port == 0 {
		*port, err = strconv.Atoi(ports[2])
		must(err)
	}
	server := "https://" + net.JoinHostPort(*bind, strconv.Itoa(*port))
	cmd := app.NewAPIServerCommand()
	args := []string{
		"--etcd-servers=" + client.String(),
		"--bind-address=" + *bind, "--advertise-address=" + *bind, "--secure-port=" + strconv.Itoa(*port),
		"--cert-dir=" + certDir, "--token-auth-file=" + tokenFile,
		"--authorization-mode=Node,RBAC",
		"--service-account-key-file=" + saKey, "--service-account-signing-key-file=" + saKey,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range=" + *ipRange,
		"--profiling=false",
	}
	if ip := net.ParseIP(*bind); ip != nil && ip.IsLoopback() {
		// The endpoints of the "kubernetes" Service may not be loopback addresses: write none.
		args = append(args, "--endpoint-reconciler-type=none")
	}
	cmd.SetArgs(append(args, flag.Args()...))

	go func() {
		ready(server, token, filepath.Join(certDir, "apiserver.crt"), *kubeconfig)
	}()
	// Returns when SIGTERM cancels the command's context and the server has shut down.
	if err := cmd.Execute(); err != nil {
		fail(err)
	}
}

// ready waits for /readyz, writes the admin kubeconfig, then prints the ready line.
func ready(server, token, caFile, kubeconfig string) {
	for start := time.Now(); time.Since(start) < 5*time.Minute; time.Sleep(200 * time.Millisecond) {
		ca, err := os.ReadFile(caFile)
		if err != nil {
			continue
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca)
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		req, _ := http.NewRequest("GET", server+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := c.Do(req)
		if err != nil {
			continue
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			continue
		}
		cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: kube-lab
  cluster: {server: %q, certificate-authority-data: %s}
users:
- name: kube-lab-admin
  user: {token: %q}
contexts:
- name: kube-lab
  context: {cluster: kube-lab, user: kube-lab-admin}
current-context: kube-lab
`, server, base64.StdEncoding.EncodeToString(ca), token)
		must(os.WriteFile(kubeconfig, []byte(cfg), 0o600))
		fmt.Println("kube-lab-apiserver ready " + server)
		return
	}
	fail(fmt.Errorf("kube-apiserver not ready after 5 minutes"))
}

// keep returns the content of path, writing create()'s result there first if the file does not exist yet.
func keep(path string, create func() string) string {
	if b, err := os.ReadFile(path); err == nil {
		return string(b)
	}
	s := create()
	must(os.WriteFile(path, []byte(s), 0o600))
	return s
}

// compactOnSIGUSR1 compacts etcd to its current revision at each SIGUSR1 and logs "compacted etcd at revision N" on
// stderr: every resourceVersion before N is then gone, as after the apiserver's periodic compaction.
func compactOnSIGUSR1(etcd *embed.Etcd) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	go func() {
		for range sig {
			rev := etcd.Server.KV().Rev()
			_, err := etcd.Server.Compact(context.Background(), &etcdserverpb.CompactionRequest{Revision: rev, Physical: true})
			if err != nil {
				fmt.Fprintln(os.Stderr, "kube-lab-apiserver: compaction:", err)
				continue
			}
			fmt.Fprintf(os.Stderr, "kube-lab-apiserver: compacted etcd at revision %d\n", rev)
		}
	}()
}

// freePort asks the kernel for an unused TCP port on host (released at once; a race is possible but unlikely).
func freePort(host string) int {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	must(err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, err := rand.Read(b)
	must(err)
	return hex.EncodeToString(b)
}

func must(err error) {
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "kube-lab-apiserver:", err)
	os.Exit(1)
}
