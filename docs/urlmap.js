// Where the references of mact's dependencies live, so that gi-docgen's links to their
// types (GObject.Object, Gio.Cancellable, Json.Node, ...) resolve in the browser.
baseURLs = [
  [ 'GLib', 'https://docs.gtk.org/glib/' ],
  [ 'GObject', 'https://docs.gtk.org/gobject/' ],
  [ 'Gio', 'https://docs.gtk.org/gio/' ],
  [ 'Json', 'https://gnome.pages.gitlab.gnome.org/json-glib/' ],
]
