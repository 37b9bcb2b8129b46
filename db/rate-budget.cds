namespace btp.provisioning;

/**
 * The Service Manager rate budget, shared by every app instance on this database (see
 * srv/service-manager/budget.ts). SM counts calls per caller (one OAuth client per subaccount), so the
 * budget is kept per subaccount: one window per level and length (e.g. all calls per minute), each a ring of
 * the last `capacity` calls in the order they were let through.
 *
 * A call may go when the oldest call of every window that counts it has left that window. Taking a place
 * locks the window rows (SELECT ... FOR UPDATE), so two processes never hand out the same place.
 */
entity RateWindows {
      /** subaccount, level, length and capacity together: a changed limit starts a ring of its own */
  key ID         : String(200);
      subaccount : String(100) not null;
      /** all, bindings, offerings, plans, instanceCreates, instanceUpdates */
      scope      : String(20) not null;
      /** the window's length in ms */
      span       : Integer64 not null;
      /** calls allowed per window */
      capacity   : Integer not null;
      /** ring entries in use; grows up to capacity */
      filled     : Integer not null default 0;
      /** the oldest entry, the next one to be reused */
      head       : Integer not null default 0;
}

/** One entry of a window's ring: a call counts from its start until its answer came, plus the window. */
entity RateCalls {
  key window  : Association to RateWindows;
  key slot    : Integer;
      /** epoch ms when the call was let through */
      began   : Integer64 not null;
      /** epoch ms when its answer came; while it runs, its start plus the in-flight cap */
      ended   : Integer64 not null;
      running : Boolean not null default true;
      /** bumped whenever the entry is reused, so that a late report of an earlier call changes nothing */
      turn    : Integer not null default 0;
}

/** An endpoint class that Service Manager answered with 429: no call of the class goes before `resumeAt`. */
entity RatePauses {
  key subaccount : String(100);
  key endpoint   : String(20);
      /** epoch ms */
      resumeAt   : Integer64 not null;
}

/**
 * An expected turn promised to a caller that comes back later instead of waiting (a reconciler step), so
 * that every app instance tells the next caller a later time.
 */
entity RateBookings {
  key subaccount : String(100);
  key endpoint   : String(20);
  key booking    : String(100);
      /** epoch ms */
      turnAt     : Integer64 not null;
}
