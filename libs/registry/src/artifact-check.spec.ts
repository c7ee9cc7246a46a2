import { verifyArtifactFiles } from './artifact-check';
import { sha256Hex } from './checksum';
import { ChecksumMismatchError, InvalidArtifactError } from './registry-errors';

function artifact(sidecarFiles: (weights: Buffer, model: Buffer) => unknown): Map<string, Buffer> {
  const model = Buffer.from(JSON.stringify({ format: 'layers-model' }));
  const weights = Buffer.from([1, 2, 3, 4]);
  const sidecar = Buffer.from(JSON.stringify({ task: 'forecast', files: sidecarFiles(weights, model) }));
  return new Map([
    ['model.json', model],
    ['group1-shard1of1.bin', weights],
    ['streamcell.json', sidecar],
  ]);
}

describe('verifyArtifactFiles', () => {
  it('accepts an artifact whose sidecar checksums match', () => {
    const files = artifact((w, m) => ({
      'group1-shard1of1.bin': { sha256: sha256Hex(w) },
      'model.json': sha256Hex(m),
    }));
    expect(() => verifyArtifactFiles(files)).not.toThrow();
  });

  it('rejects a tampered file', () => {
    const files = artifact((w) => ({ 'group1-shard1of1.bin': { sha256: sha256Hex(w) } }));
    files.set('group1-shard1of1.bin', Buffer.from([1, 2, 3, 5]));
    expect(() => verifyArtifactFiles(files)).toThrow(ChecksumMismatchError);
  });

  it('rejects a missing sidecar, a missing listed file and a missing model.json', () => {
    const files = artifact((w) => ({ 'group1-shard1of1.bin': sha256Hex(w) }));
    const noSidecar = new Map(files);
    noSidecar.delete('streamcell.json');
    expect(() => verifyArtifactFiles(noSidecar)).toThrow(InvalidArtifactError);
    const noWeights = new Map(files);
    noWeights.delete('group1-shard1of1.bin');
    expect(() => verifyArtifactFiles(noWeights)).toThrow(/missing/);
    const noModel = new Map(files);
    noModel.delete('model.json');
    expect(() => verifyArtifactFiles(noModel)).toThrow(/model.json/);
  });

  it('rejects a sidecar that is not JSON', () => {
    const files = artifact(() => ({}));
    files.set('streamcell.json', Buffer.from('{nope'));
    expect(() => verifyArtifactFiles(files)).toThrow(/does not parse/);
  });
});
