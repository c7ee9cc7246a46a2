/**
 * The Kafka image's cluster id: Kafka's storage tool reads an argument that begins with '-' as an
 * option, so an id drawn from base64 made the container fail to start about once in 64. Random
 * ids never begin with '-' (2,000 drawn as the entrypoint draws them; the old drawing gave ~31
 * such ids in that many), and a given one that does is refused by name.
 */
import { spawnSync } from 'node:child_process';
import { uniqueSuffix } from './support/e2e-env';

const IMAGE = process.env.KAFKA_IMAGE ?? 'streamcell/kafka:4';

function docker(args: string[]) {
  return spawnSync('docker', args, { encoding: 'utf8', timeout: 90_000 });
}

describe('Kafka image: CLUSTER_ID', () => {
  // Named, so that an image without the option (which would start a broker instead) is removed.
  const names = [`kafka-image-ids-${uniqueSuffix()}`, `kafka-image-refused-${uniqueSuffix()}`];
  afterAll(() => {
    for (const name of names) docker(['rm', '-f', name]);
  });

  it('draws random ids that never begin with "-" and are Kafka Uuids (22 base64url characters)', () => {
    const r = docker(['run', '--rm', '--name', names[0], IMAGE, '--draw-cluster-ids', '2000']);
    expect(r.status).toBe(0);
    const ids = r.stdout.trim().split('\n');
    expect(ids).toHaveLength(2000);
    expect(ids.filter((id) => !/^[A-Za-z0-9_-]{22}$/.test(id))).toEqual([]);
    expect(ids.filter((id) => id.startsWith('-'))).toEqual([]);
    // 16 bytes each: the first character carries the first byte's top six bits only.
    expect(ids.filter((id) => Buffer.from(id, 'base64url').length !== 16)).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('refuses a given CLUSTER_ID that begins with "-", naming the variable', () => {
    const r = docker(['run', '--rm', '--name', names[1], '-e', 'CLUSTER_ID=-X7fZ2JgSq6bW3n0aYVYQg', IMAGE]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("CLUSTER_ID must not begin with '-'");
  });
});
