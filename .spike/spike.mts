import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { startKubeServer, kubeBinary } from '/work/wt/kubenet/lab/kube/server.ts';
import { startApiBridge } from '/work/wt/kubenet/lab/netlab/api-bridge.ts';
import { buildLab } from '/work/wt/kubenet/lab/netlab/netns.ts';
import { run, spawnIn } from '/work/wt/kubenet/lab/netlab/exec.ts';
const prefix = 'mvspk';
const lab = await buildLab({ prefix, nodes: 1 });
const t0 = Date.now();
const server = await startKubeServer({ name: 'spike' });
console.log('server', server.url, Date.now() - t0);
const port = new URL(server.url).port;
const bridge = await startApiBridge(prefix, Number(port));
const n = lab.nodes[0]!;
await bridge.addNamespace(n.ns);
const k = (args: string[], input?: string) => server.kubectl(args, input ? { input } : {});
console.log(await k(['create', 'sa', 'kube-proxy', '-n', 'kube-system']));
console.log(await k(['create', 'clusterrolebinding', 'lab:node-proxier', '--clusterrole=system:node-proxier', '--serviceaccount=kube-system:kube-proxy']));
const kc = await server.serviceAccountKubeconfig('kube-system', 'kube-proxy');
// point at bridge
const txt = (await import('node:fs')).readFileSync(kc, 'utf8').replace(/server: .*/, `server: https://127.0.0.1:6443`);
const kc2 = `${kc}.bridge`;
writeFileSync(kc2, txt);
console.log(txt.slice(0, 300));
const nodeYaml = `apiVersion: v1
kind: Node
metadata: {name: n1, labels: {kubernetes.io/hostname: n1}}
`;
console.log(await k(['apply', '-f', '-'], nodeYaml));
console.log(await k(['patch','node','n1','--subresource=status','--type=merge','-p',JSON.stringify({status:{addresses:[{type:'InternalIP',address:n.ipv4}],conditions:[{type:'Ready',status:'True'}]}})]));
const proxy = spawnIn(n.ns, [kubeBinary('kube-proxy'), `--kubeconfig=${kc2}`, '--proxy-mode=nftables', '--hostname-override=n1',
  `--healthz-bind-address=${n.ipv4}:10256`, '--metrics-bind-address=127.0.0.1:10249', '--conntrack-max-per-core=0',
  '--conntrack-tcp-timeout-established=0', '--conntrack-tcp-timeout-close-wait=0', '--v=2'], { stdio: ['ignore', 'pipe', 'pipe'] });
let log = '';
proxy.stderr!.on('data', (d) => { log += d; });
proxy.stdout!.on('data', (d) => { log += d; });
await sleep(20000);
console.log('LOG', log.split('\n').filter(l=>!l.includes('FLAG')).join('\n').slice(-5000));
console.log((await run(n.ns, ['curl', '-s', `http://${n.ipv4}:10256/healthz`])).stdout);
console.log((await run(n.ns, ['nft', 'list', 'tables'])).stdout);
proxy.kill('SIGKILL');
await bridge.close();
await server.stop();
await lab.teardown();
