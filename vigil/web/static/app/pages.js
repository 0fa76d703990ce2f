// The pages of the app by the name in the address (#library?…): the module that draws each
// and the component it exports. main.js loads a page's module when the page is first shown;
// boot.js starts fetching the modules of the address's page before main.js has run.
export const PAGE_MODULES = {
  live: ["grid.js", "LiveGrid"],
  recordings: ["recordings.js", "RecordingsPage"],
  events: ["events.js", "EventsPage"],
  library: ["library.js", "LibraryPage"],
  search: ["search.js", "SearchPage"],
  cameras: ["table.js", "CameraTable"],
  account: ["account.js", "AccountPage"],
  admin: ["admin.js", "AdminPage"],
};

// The page the address names: "live" for none or one unknown.
export function addressPage() {
  const name = location.hash.replace(/^#/, "").split("?")[0];
  return name in PAGE_MODULES ? name : "live";
}
