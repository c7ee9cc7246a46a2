import { env } from './env-schema';
import { envDocProblems, parseEnvTables } from './env-docs';

const DOC = `
Intro.

| variable | app | default | meaning |
| --- | --- | --- | --- |
| \`PORT\` | both | \`8080\` | listen port |
| \`A_TOPIC\`, \`B_TOPIC\` | worker | \`a\`, \`b\` | topics |
| \`CLIENT_ID\` | both | \`w\` / \`t\` | client id |
| \`URL\` | both | required | where |
| \`DIR\` | trainer | unset | a directory |
| \`TTL\` | worker | 7 days | prose, not compared |

| other | table |
| --- | --- |
| \`IGNORED\` | no variable column |
`;

describe('env documentation tables', () => {
  it('parses the rows of tables with variable and default columns only', () => {
    const rows = parseEnvTables(DOC);
    expect(rows.map((r) => r.variables)).toEqual([['PORT'], ['A_TOPIC', 'B_TOPIC'], ['CLIENT_ID'], ['URL'], ['DIR'], ['TTL']]);
    expect(rows[1]).toEqual({ variables: ['A_TOPIC', 'B_TOPIC'], app: 'worker', defaultText: '`a`, `b`', line: 7 });
  });

  const spec = {
    PORT: env.port('port', 8080),
    A_TOPIC: env.topic('a', 'a'),
    B_TOPIC: env.topic('b', 'b'),
    CLIENT_ID: env.string('id', 't'),
    URL: env.redisUrl('url'),
    DIR: env.optional(env.string('dir')),
    TTL: env.durationMs('ttl', '7d'),
  };

  it('finds nothing when table and spec agree', () => {
    expect(envDocProblems(spec, parseEnvTables(DOC))).toEqual([]);
  });

  it('names undocumented and unread variables and disagreeing defaults', () => {
    const drifted = { ...spec, PORT: env.port('port', 9090), B_TOPIC: env.topic('b', 'x'), URL: env.redisUrl('url', 'redis://h:1'), NEW: env.string('new', 'n') };
    const { CLIENT_ID: _gone, ...rest } = drifted;
    expect(envDocProblems(rest, parseEnvTables(DOC))).toEqual([
      'line 6: PORT is documented with default "8080", the app\'s is "9090"',
      'line 7: B_TOPIC is documented with default "b", the app\'s is "x"',
      'line 8: CLIENT_ID is documented but not read by the app',
      'line 9: URL is documented as required but defaults to "redis://h:1"',
      'NEW is read by the app but not documented',
    ]);
    expect(envDocProblems({ ...spec, DIR: env.string('dir', '/d') }, parseEnvTables(DOC))).toEqual([
      'line 10: DIR is documented as unset by default but is not optional',
    ]);
    expect(envDocProblems(rest, parseEnvTables(DOC), ['CLIENT_ID'])).not.toContainEqual(expect.stringContaining('CLIENT_ID'));
  });
});
