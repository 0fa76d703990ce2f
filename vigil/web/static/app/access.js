// Which pages of the app a person may open. Admins and operators: all of them. Viewers
// (parents, students) have the library and its search, and the camera pages only as far as
// grants share cameras with them: Live for live views, Recordings and Events for recordings,
// Cameras for any camera of theirs. A parent without cameras sees the library and Search
// alone, and lands on the library; an address naming another page shows their home page
// instead. The API decides either way. Everyone has their account; the admin page tells
// anyone but an admin that it is not theirs (and is left out of their navigation: see
// navHidden).
export const ALL_PAGES = ["live", "recordings", "events", "library", "search", "cameras", "account", "admin"];

function granted(cameras) {
  return new Set(Array.isArray(cameras) ? cameras.flatMap((c) => c.permissions || []) : []);
}

export function pagesFor(me, cameras) {
  if (me.role !== "viewer") return ALL_PAGES;
  const rights = granted(cameras);
  const some = Array.isArray(cameras) && cameras.length > 0;
  return ALL_PAGES.filter(
    (page) =>
      page === "library" ||
      page === "search" ||
      page === "account" ||
      page === "admin" ||
      (page === "live" && rights.has("view_live")) ||
      ((page === "recordings" || page === "events") && rights.has("view_recordings")) ||
      (page === "cameras" && some),
  );
}

export function homePage(me, cameras) {
  return me.role !== "viewer" || granted(cameras).has("view_live") ? "live" : "library";
}

// A viewer's pages depend on their cameras: nothing is chosen until the list is read.
export function decided(me, cameras) {
  return me.role !== "viewer" || cameras !== null;
}

// Pages a person may open by address but that their navigation leaves out.
export function navHidden(me, page) {
  return page === "admin" && me.role !== "admin";
}
