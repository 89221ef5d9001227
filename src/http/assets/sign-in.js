// The sign-in page's script: signs the person in with the Firebase Web SDK (served by this server, see
// authorize-assets.ts), then hands the ID token to the authorization server, which binds the consent step to this
// browser with a cookie and sends the person on to the consent page. Nothing is kept in the browser: Firebase runs
// with in-memory persistence, so closing the tab signs out.
import { initializeApp } from './firebase-app.js';
import {
  browserPopupRedirectResolver,
  connectAuthEmulator,
  GoogleAuthProvider,
  inMemoryPersistence,
  initializeAuth,
  signInWithEmailAndPassword,
  signInWithPopup,
} from './firebase-auth.js';

const config = JSON.parse(document.getElementById('flowpos-config').textContent);
const app = initializeApp({ apiKey: config.apiKey, authDomain: config.authDomain, projectId: config.projectId });
// initializeAuth (unlike getAuth) includes no popup support unless given the resolver.
const auth = initializeAuth(app, { persistence: inMemoryPersistence, popupRedirectResolver: browserPopupRedirectResolver });
if (config.emulatorUrl) connectAuthEmulator(auth, config.emulatorUrl, { disableWarnings: true });

const form = document.getElementById('email-form');
const error = document.getElementById('error');
const buttons = document.querySelectorAll('button');

function busy(on) {
  for (const b of buttons) b.disabled = on;
}

function show(message) {
  error.textContent = message;
  error.hidden = false;
}

const FIREBASE_MESSAGES = {
  'auth/invalid-credential': 'Wrong email or password.',
  'auth/wrong-password': 'Wrong email or password.',
  'auth/user-not-found': 'No account with that email.',
  'auth/invalid-email': 'That is not an email address.',
  'auth/too-many-requests': 'Too many attempts; wait a minute and try again.',
  'auth/popup-closed-by-user': 'The Google window was closed before signing in.',
  'auth/network-request-failed': 'Firebase could not be reached; check your connection.',
};

async function finish(credential) {
  const idToken = await credential.user.getIdToken();
  const res = await fetch(config.signInUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    credentials: 'same-origin',
    body: JSON.stringify({ authorization_id: config.authorizationId, id_token: idToken }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error_description || `The server refused the sign-in (HTTP ${res.status}).`);
  window.location.assign(body.next);
}

async function attempt(signIn) {
  error.hidden = true;
  busy(true);
  try {
    await finish(await signIn());
  } catch (err) {
    show(FIREBASE_MESSAGES[err && err.code] || (err && err.message) || String(err));
    busy(false);
  }
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const data = new FormData(form);
  void attempt(() => signInWithEmailAndPassword(auth, String(data.get('email')), String(data.get('password'))));
});

document.getElementById('google').addEventListener('click', () => {
  void attempt(() => signInWithPopup(auth, new GoogleAuthProvider()));
});
