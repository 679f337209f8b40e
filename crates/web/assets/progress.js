// Progress page: the ghost overlay. The first photo shows faintly over a
// preview of the photo being chosen, with a slider for its opacity. The
// form works without this script.
(function () {
  "use strict";
  var input = document.getElementById("photo-file");
  var ghost = document.getElementById("ghost");
  var preview = document.getElementById("ghost-preview");
  var first = document.getElementById("ghost-first");
  var slider = document.getElementById("ghost-opacity");
  if (!input || !ghost || !preview || !first || !slider) return;

  function setOpacity() {
    first.style.opacity = String(Number(slider.value) / 100);
  }
  slider.addEventListener("input", setOpacity);
  setOpacity();

  input.addEventListener("change", function () {
    var file = input.files && input.files[0];
    if (!file || !/^image\/(jpeg|png|webp)$/.test(file.type)) {
      ghost.hidden = true;
      return;
    }
    // A data: URL, which the page's content security policy allows.
    var reader = new FileReader();
    reader.onload = function () {
      preview.src = String(reader.result);
      ghost.hidden = false;
    };
    reader.readAsDataURL(file);
  });
})();
