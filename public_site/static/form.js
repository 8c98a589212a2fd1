// The form's one script: fill the map point from the phone's position when the citizen asks (nothing is sent
// until they press "Gửi phản ánh"); without it the form works as plain HTML.
(function () {
  var button = document.getElementById("vi-tri");
  if (!button || !navigator.geolocation) { return; }
  var said = document.getElementById("vi-tri-ket-qua");
  button.hidden = false;
  button.addEventListener("click", function () {
    said.textContent = "Đang lấy vị trí…";
    navigator.geolocation.getCurrentPosition(function (p) {
      document.getElementById("vi_do").value = p.coords.latitude.toFixed(6);
      document.getElementById("kinh_do").value = p.coords.longitude.toFixed(6);
      said.textContent = "Đã gắn vị trí (" + p.coords.latitude.toFixed(5) + ", " + p.coords.longitude.toFixed(5) + ").";
    }, function () {
      said.textContent = "Không lấy được vị trí; bạn có thể ghi địa chỉ.";
    }, {enableHighAccuracy: true, timeout: 15000});
  });
}());
