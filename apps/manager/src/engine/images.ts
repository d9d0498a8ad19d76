import type { Selectable } from 'kysely';
import { recordEvent } from '../database/events.js';
import type {
  ImagesTable,
  NewRevisionTest,
  RevisionState,
  RevisionsTable,
} from '../database/schema.js';
import { managerError } from '../errors.js';
import type { Engine } from './engine.js';
import { invalidRequest, isText } from './request-checks.js';

/** An image as the manager keeps it. @public */
export interface ImageStatus {
  /** Its name in the stores. */
  readonly name: string;
  /** The OS family it holds. */
  readonly osFamily: string;
  /** The login of its owner, when that user is registered. */
  readonly owner: string | undefined;
  /** How a new revision is tested before users get it. */
  readonly newRevisionTest: NewRevisionTest;
  /** Its revisions the manager knows, oldest first. */
  readonly revisions: readonly RevisionStatus[];
}

/** An image revision as the manager keeps it. @public */
export interface RevisionStatus {
  /** The revision number. */
  readonly revision: number;
  /** Where it is in its life: `capturing`, `testing`, `production`, `retired`, `failed`. */
  readonly state: RevisionState;
  /** SHA-256 of the disk image, once known. */
  readonly sha256: string | undefined;
  /** Bytes of the disk image, once known. */
  readonly sizeBytes: number | undefined;
  /** The computer it was captured from, if it was. */
  readonly capturedFrom: string | undefined;
  /** Why it failed, if it did. */
  readonly failure: string | undefined;
}

/** The lab's images and the marking of their revisions. @public */
export interface LabImages {
  /** Every image, by name. */
  list(): Promise<readonly ImageStatus[]>;
  /** The image, or `undefined`. */
  get(name: string): Promise<ImageStatus | undefined>;
  /**
   * Marks a `testing` revision `production`: users get it (the newest production revision is the
   * default of a request). The step an image's owner takes by hand when the image's
   * `newRevisionTest` is `manual`, after trying the revision (an admin can reload a computer with
   * a testing revision).
   * Marking a production revision again does nothing.
   * @throws `VLAB_ERR_IMAGE_UNKNOWN` (no such revision), `VLAB_ERR_REQUEST_INVALID` (the
   * revision is not in `testing`).
   */
  promote(image: string, revision: number): Promise<ImageStatus>;
  /**
   * Retires a `testing` or `production` revision: no new reservation gets it (running ones go on),
   * and it is never preloaded again. Retiring a retired revision does nothing.
   * @throws `VLAB_ERR_IMAGE_UNKNOWN`, `VLAB_ERR_REQUEST_INVALID` (it is capturing or failed).
   */
  retire(image: string, revision: number): Promise<ImageStatus>;
}

/** The images of the running manager. */
export function labImages(current: Engine): LabImages {
  const { db } = current;
  const get = async (name: string): Promise<ImageStatus | undefined> => {
    if (!isText(name, 200)) return undefined;
    const row = await db
      .selectFrom('images')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    const revisions = await db
      .selectFrom('revisions')
      .selectAll()
      .where('image', '=', name)
      .orderBy('revision')
      .execute();
    return imageStatus(row, revisions);
  };
  const mark = async (
    image: string,
    revision: number,
    to: RevisionState,
    from: readonly RevisionState[],
  ): Promise<ImageStatus> => {
    if (!Number.isSafeInteger(revision) || revision < 1) {
      throw invalidRequest("the revision's", 'number', 'is not a whole number, 1 or more');
    }
    const before = await get(image);
    const row = before?.revisions.find((r) => r.revision === revision);
    if (before === undefined || row === undefined) {
      throw managerError(
        'VLAB_ERR_IMAGE_UNKNOWN',
        `the lab has no image ${JSON.stringify(String(image)).slice(0, 120)} revision ${revision}`,
      );
    }
    if (row.state === to) return before;
    const changed = await db
      .updateTable('revisions')
      .set({ state: to })
      .where('image', '=', image)
      .where('revision', '=', revision)
      .where('state', 'in', from)
      .returning('revision')
      .executeTakeFirst();
    if (changed === undefined) {
      throw invalidRequest(
        `${image} revision ${revision}`,
        'state',
        `is ${row.state}: only a revision in ${from.join(' or ')} becomes ${to}`,
      );
    }
    await recordEvent(db, { kind: `revision.${to}`, message: `${image} revision ${revision}` });
    return (await get(image)) as ImageStatus;
  };

  return {
    async list() {
      const rows = await db.selectFrom('images').selectAll().orderBy('name').execute();
      const revisions = await db
        .selectFrom('revisions')
        .selectAll()
        .orderBy('image')
        .orderBy('revision')
        .execute();
      return rows.map((row) =>
        imageStatus(
          row,
          revisions.filter((r) => r.image === row.name),
        ),
      );
    },
    get,
    promote: (image, revision) => mark(image, revision, 'production', ['testing']),
    retire: (image, revision) => mark(image, revision, 'retired', ['testing', 'production']),
  };
}

function imageStatus(
  row: Selectable<ImagesTable>,
  revisions: readonly Selectable<RevisionsTable>[],
): ImageStatus {
  return {
    name: row.name,
    osFamily: row.os_family,
    owner: row.owner ?? undefined,
    newRevisionTest: row.new_revision_test,
    revisions: revisions.map((r) => ({
      revision: r.revision,
      state: r.state,
      sha256: r.sha256 ?? undefined,
      sizeBytes: r.size_bytes === null ? undefined : Number(r.size_bytes),
      capturedFrom: r.captured_from ?? undefined,
      failure: r.failure ?? undefined,
    })),
  };
}
