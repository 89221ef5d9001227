import type { OAuthClient } from '../auth/oauth-client.js';
import type { Scope } from '../auth/principal.js';

/** The HTML of the authorization pages. Every interpolated value goes through `esc`; no inline script or style. */

export const AUTHORIZE_ASSETS_PATH = '/authorize/assets';

const SCOPE_TEXT: Record<Scope, string> = {
  'pos:read': 'See your businesses, their catalog, your carts and your orders',
  'pos:write': 'Change your carts, choose your active business and place orders',
};

export function esc(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string, head = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<link rel="icon" href="data:,">
<title>${esc(title)} · FlowPOS</title>
<link rel="stylesheet" href="${AUTHORIZE_ASSETS_PATH}/page.css">
${head}</head>
<body><main>
${body}
</main></body>
</html>
`;
}

/** Who is asking, in words a person can check: the name it gave and where it really lives. */
function clientLabel(client: OAuthClient): { name: string; detail: string } {
  if (client.kind === 'metadata-document') {
    const host = new URL(client.clientId).host;
    return { name: client.clientName ?? host, detail: `identified by ${client.clientId}` };
  }
  return { name: client.clientName ?? 'An unnamed application', detail: `registered itself as ${client.clientId}` };
}

export interface SignInPageInput {
  client: OAuthClient;
  authorizationId: string;
  signInUrl: string;
  firebase: { apiKey: string; authDomain: string; projectId: string; emulatorUrl?: string };
}

export function signInPage(input: SignInPageInput): string {
  const { name } = clientLabel(input.client);
  // JSON in a non-executable script element: allowed by the page's CSP (no inline script runs), read by sign-in.js. `<` is escaped so
  // no value can close the element.
  const config = JSON.stringify({ authorizationId: input.authorizationId, signInUrl: input.signInUrl, ...input.firebase }).replace(/</g, '\\u003c');
  return page(
    'Sign in',
    `<h1>Sign in to FlowPOS</h1>
<p><strong>${esc(name)}</strong> wants to use your FlowPOS account. Sign in first; you will see what it asks for before anything is shared.</p>
<form id="email-form">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button class="primary" type="submit" id="sign-in">Sign in</button>
</form>
<hr>
<button type="button" id="google">Continue with Google</button>
<p id="error" class="error" role="alert" hidden></p>
<script type="application/json" id="flowpos-config">${config}</script>`,
    `<script type="module" src="${AUTHORIZE_ASSETS_PATH}/sign-in.js"></script>\n`,
  );
}

export interface ConsentPageInput {
  client: OAuthClient;
  authorizationId: string;
  account: string;
  scopes: Scope[];
  redirectUri: string;
  action: string;
}

export function consentPage(input: ConsentPageInput): string {
  const { name, detail } = clientLabel(input.client);
  const unverified =
    input.client.kind === 'registered'
      ? `<p class="warning">FlowPOS has not verified this application: it registered itself. Allow only if you started this from an application you trust.</p>`
      : '';
  return page(
    'Allow access?',
    `<h1>Allow ${esc(name)} to use your FlowPOS account?</h1>
<p class="muted">${esc(name)} — ${esc(detail)}</p>
${unverified}<p>Signed in as <strong>${esc(input.account)}</strong>. It will be able to:</p>
<ul class="scopes">${input.scopes.map((s) => `<li>${esc(SCOPE_TEXT[s])} <span class="muted">(${esc(s)})</span></li>`).join('')}</ul>
<p class="muted">After you answer you will be sent to <code>${esc(input.redirectUri)}</code>.</p>
<form method="post" action="${esc(input.action)}">
<input type="hidden" name="authorization_id" value="${esc(input.authorizationId)}">
<div class="row">
<button class="primary" type="submit" name="decision" value="allow" id="allow">Allow</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</div>
</form>`,
  );
}

export function errorPage(status: number, message: string): string {
  return page(
    'Cannot continue',
    `<h1>This sign-in cannot continue</h1>
<p class="error" id="error">${esc(message)}</p>
<p class="muted">HTTP ${status}. Nothing was shared. Go back to your MCP client and connect again.</p>`,
  );
}
