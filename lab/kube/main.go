// kube-lab-apiserver runs a real etcd (embedded) and a real kube-apiserver (in-process, from k8s.io/kubernetes) for
// metal-vrrp's tests and lab: RBAC on, ServiceAccount signing keys and an admin token made at start. It prints one
// line "kube-lab-apiserver ready <url>" once /readyz answers ok and writes an admin kubeconfig; SIGTERM stops it.
// Flags after "--" go to kube-apiserver unchanged.
package main

import (
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
	"path/filepath"
	"strconv"
	"time"

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

	// etcd: one member on loopback-or-bind ports chosen now.
	cfg := embed.NewConfig()
	cfg.Dir = filepath.Join(*dataDir, "etcd")
	cfg.Logger, cfg.LogLevel = "zap", "warn"
	client := url.URL{Scheme: "http", Host: net.JoinHostPort(*bind, strconv.Itoa(freePort(*bind)))}
	peer := url.URL{Scheme: "http", Host: net.JoinHostPort(*bind, strconv.Itoa(freePort(*bind)))}
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

	// ServiceAccount token signing key (ES256) and the admin's static token (group system:masters).
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	der, err := x509.MarshalECPrivateKey(key)
	must(err)
	saKey := filepath.Join(certDir, "sa.key")
	must(os.WriteFile(saKey, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600))
	token := randomHex(24)
	tokenFile := filepath.Join(certDir, "tokens.csv")
	must(os.WriteFile(tokenFile, []byte(token+`,kube-lab-admin,kube-lab-admin,"system:masters"`+"\n"), 0o600))

	if *port == 0 {
		*port = freePort(*bind)
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
