import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { startKubeServer, kubeBinary } from '/work/wt/kubenet/lab/kube/server.ts';
import { startApiBridge } from '/work/wt/kubenet/lab/netlab/api-bridge.ts';
import { buildLab } from '/work/wt/kubenet/lab/netlab/netns.ts';
import { run, spawnIn } from '/work/wt/kubenet/lab/netlab/exec.ts';
import { startHttpResponder } from '/work/wt/kubenet/lab/netlab/http-responder.ts';
const prefix = 'mvspk';
const lab = await buildLab({ prefix, nodes: 2 });
const server = await startKubeServer({ name: 'spike' });
const bridge = await startApiBridge(prefix, Number(new URL(server.url).port));
const k = async (args: string[], input?: string) => { const r = await server.kubectl(args, input ? { input } : {}); if (r.code) console.log('KUBECTL', args.join(' '), r.stderr); return r.stdout; };
await k(['create', 'sa', 'kube-proxy', '-n', 'kube-system']);
await k(['create', 'clusterrolebinding', 'lab:node-proxier', '--clusterrole=system:node-proxier', '--serviceaccount=kube-system:kube-proxy']);
const kc = await server.serviceAccountKubeconfig('kube-system', 'kube-proxy');
const kc2 = `${kc}.bridge`;
writeFileSync(kc2, readFileSync(kc, 'utf8').replace(/server: .*/, `server: https://127.0.0.1:6443`));
const VIP = '10.77.78.100'.replace('78', lab.ipv4Subnet.split('.')[2]!);
for (const n of lab.nodes) {
  await bridge.addNamespace(n.ns);
  await k(['apply', '-f', '-'], `apiVersion: v1\nkind: Node\nmetadata: {name: ${n.name}}\n`);
  await k(['patch','node',n.name,'--subresource=status','--type=merge','-p',JSON.stringify({status:{addresses:[{type:'InternalIP',address:n.ipv4}]}})]);
  await startHttpResponder(n, { port: 8080 });
}
await k(['apply', '-f', '-'], `apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {type: LoadBalancer, ports: [{port: 80, targetPort: 8080, protocol: TCP}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-lab, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: "", port: 8080, protocol: TCP}]
endpoints:
${lab.nodes.map((n) => `- {addresses: [${n.ipv4}], nodeName: ${n.name}, conditions: {ready: true}}`).join('\n')}
`);
await k(['patch','svc','web','--subresource=status','--type=merge','-p',JSON.stringify({status:{loadBalancer:{ingress:[{ip:VIP}]}}})]);
for (const n of lab.nodes) {
  const p = spawnIn(n.ns, [kubeBinary('kube-proxy'), `--kubeconfig=${kc2}`, '--proxy-mode=nftables', `--hostname-override=${n.name}`,
    `--healthz-bind-address=${n.ipv4}:10256`, '--metrics-bind-address=127.0.0.1:10249', '--conntrack-max-per-core=0',
    '--conntrack-tcp-timeout-established=0', '--conntrack-tcp-timeout-close-wait=0']);
  p.stderr!.resume(); p.stdout!.resume();
}
await sleep(5000);
const n1 = lab.nodes[0]!;
const c = lab.client.ns;
const sh = async (ns: string | null, a: string[]) => { const r = await run(ns, a); return `${r.code} ${r.stdout.trim()} ${r.stderr.trim()}`.slice(0, 400); };
console.log('nft', (await sh(n1.ns, ['nft', 'list', 'map', 'ip', 'kube-proxy', 'service-ips'])));
console.log('arping before:', await sh(c, ['arping', '-c1', '-w1', '-I', 'eth0', VIP]));
await run(c, ['ip', 'neigh', 'replace', VIP, 'lladdr', n1.mac, 'dev', 'eth0']);
for (let i = 0; i < 6; i++) console.log('curl fwd=0 no addr:', await sh(c, ['curl', '-s', '-m', '1', `http://${VIP}/`]));
console.log('forward', await sh(n1.ns, ['sysctl', 'net.ipv4.ip_forward', 'net.ipv4.conf.all.rp_filter', 'net.ipv4.conf.eth0.arp_ignore']));
await run(n1.ns, ['sysctl', '-w', 'net.ipv4.ip_forward=1']);
for (let i = 0; i < 6; i++) console.log('curl fwd=1 no addr:', await sh(c, ['curl', '-s', '-m', '1', `http://${VIP}/`]));
console.log('arping after:', await sh(c, ['arping', '-c1', '-w1', '-I', 'eth0', VIP]));
console.log('ping:', await sh(c, ['ping', '-c1', '-W1', VIP]));
console.log('port 81:', await sh(c, ['curl', '-s', '-m', '1', `http://${VIP}:81/`]));
// outage
const t0 = Date.now();
await server.stopProcess();
console.log('stopped', Date.now() - t0);
await sleep(3000);
const t1 = Date.now();
await server.restartProcess();
console.log('restarted', Date.now() - t1);
console.log(await k(['get', 'svc', '-A']));
const r = await server.kubectl(['get', 'svc'], { kubeconfig: kc });
console.log('sa token after restart', r.code, r.stderr);
console.log('healthz', await sh(n1.ns, ['curl', '-s', `http://${n1.ipv4}:10256/healthz`]));
await bridge.close();
await server.stop();
await lab.teardown();
