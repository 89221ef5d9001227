// The relay lives with the chaos script (scripts do not reach into the tests; tests may use a script's module).
export { startTcpProxy, type TcpProxy } from '../../scripts/tcp-proxy.js';
