import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DeployUsageError, parseFlags, setting, wholeNumber, type FlagKind } from '../../src/cli/deploy/flags.js';

/** The deploy commands' flag reading: every refusal names the flag as the usage text spells it. */

const SPEC: Record<string, FlagKind> = { project: 'value', env: 'list', 'dry-run': 'switch', 'min-instances': 'value' };

function refused(argv: string[]): string {
  try {
    parseFlags(argv, SPEC);
  } catch (err) {
    assert.ok(err instanceof DeployUsageError, `a DeployUsageError, not ${String(err)}`);
    return err.message;
  }
  assert.fail(`${argv.join(' ')} was accepted`);
}

describe('deploy flags', () => {
  test('values, inline values, repeated lists and switches', () => {
    const f = parseFlags(['--project', 'p1', '--env', 'A=1', '--env=B=2', '--dry-run', '--min-instances=3'], SPEC);
    assert.equal(f.values.get('project'), 'p1');
    assert.equal(f.values.get('min-instances'), '3');
    assert.deepEqual(f.lists.get('env'), ['A=1', 'B=2']);
    assert.ok(f.switches.has('dry-run'));
    assert.equal(f.help, false);
    assert.equal(parseFlags(['--project', 'a', '--project', 'b'], SPEC).values.get('project'), 'b', 'the last one wins');
    assert.equal(parseFlags(['--env=--odd=1'], SPEC).lists.get('env')?.[0], '--odd=1', 'an inline value may start with --');
    assert.equal(parseFlags(['--project', '-dash-start'], SPEC).values.get('project'), '-dash-start');
    assert.ok(parseFlags(['-h'], SPEC).help);
    assert.ok(parseFlags(['--project', 'p', '--help'], SPEC).help);
  });

  test('an unknown flag is named', () => {
    assert.equal(refused(['--session-affinity']), "unknown option '--session-affinity' (see --help)");
    assert.equal(refused(['--project', 'p', '-x']), "unknown option '-x' (see --help)");
    assert.equal(refused(['--projct=p']), "unknown option '--projct' (see --help)");
  });

  test('a missing value is named, whether at the end, empty or swallowed by the next flag', () => {
    assert.equal(refused(['--project']), '--project needs a value (see --help)');
    assert.equal(refused(['--project', '']), '--project needs a value (see --help)');
    assert.equal(refused(['--project=']), '--project needs a value (see --help)');
    assert.equal(refused(['--project', '--dry-run']), '--project needs a value (see --help)');
    assert.equal(refused(['--env']), '--env needs a value (see --help)');
  });

  test('a switch takes no value, and there are no positional arguments', () => {
    assert.equal(refused(['--dry-run=true']), "--dry-run takes no value, got 'true'");
    assert.equal(refused(['--project', 'p', 'extra']), "unexpected argument 'extra' (see --help)");
    assert.equal(refused(['--', '--project', 'p']), "unexpected argument '--' (see --help)");
  });

  test('a number is digits only', () => {
    assert.equal(wholeNumber('min-instances', '0'), 0);
    assert.equal(wholeNumber('min-instances', '12'), 12);
    for (const bad of ['-1', '1.5', '1e3', ' 1', 'ten', '0x10', '']) {
      assert.throws(() => wholeNumber('min-instances', bad), (err: Error) => err instanceof DeployUsageError && err.message === `--min-instances takes a whole number, got '${bad}'`);
    }
  });

  test('a flag wins over its environment variable, which wins over the default; an empty variable is unset', () => {
    const f = parseFlags(['--project', 'from-flag'], SPEC);
    assert.equal(setting(f, { PROJECT: 'from-env' }, 'project', 'PROJECT', 'default'), 'from-flag');
    const none = parseFlags([], SPEC);
    assert.equal(setting(none, { PROJECT: 'from-env' }, 'project', 'PROJECT', 'default'), 'from-env');
    assert.equal(setting(none, { PROJECT: '' }, 'project', 'PROJECT', 'default'), 'default');
    assert.equal(setting(none, {}, 'project', 'PROJECT'), '');
  });
});
